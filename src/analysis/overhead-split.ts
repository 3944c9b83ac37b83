// Where the bytes of one decoded sensorwire message lie: the common header, the body, the
// reading values inside the body, and the authentication tag. The codec returns the decoded
// fields only; their sizes on the wire follow from PROTOCOL.md (varints are minimal, so a
// value's size is a function of the value), which is what this module works out.
import { Flag, TAG_LENGTH } from '../protocol/constants.ts';
import { decodeHeader } from '../protocol/header.ts';
import type { Message, Reading } from '../protocol/types.ts';
import { FIXED_SIZE } from '../protocol/values.ts';

/** One byte category per code, as painted into a stream map. */
export const Region = {
  FRAMING: 0,
  HEADER: 1,
  BODY: 2,
  VALUES: 3,
  TAG: 4,
  MALFORMED: 5,
  UNDECODED: 6,
} as const;
export type Region = (typeof Region)[keyof typeof Region];
export const REGION_COUNT = 7;

const utf8 = new TextEncoder();

/** Bytes of the minimal unsigned LEB128 encoding of n (0 … 2³²−1). */
export function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

/** Bytes a reading's value takes, length byte included for strings and bytes. */
export function valueLength(reading: Reading): number {
  if (reading.type === 'string') {
    const n = utf8.encode(reading.value).length;
    return varintLength(n) + n;
  }
  if (reading.type === 'bytes') return varintLength(reading.value.length) + reading.value.length;
  const fixed = FIXED_SIZE[reading.type];
  if (fixed === undefined) throw new Error(`no size for value type ${reading.type}`);
  return fixed;
}

export interface MessageLayout {
  /** Header bytes: [0, header). */
  readonly header: number;
  /** Tag bytes at the end of the message (0 or 8). */
  readonly tag: number;
  /** The message has the RELIABLE flag (on ACK: the rudp fields). */
  readonly reliable: boolean;
  /** [start, end) of each reading value, in message offsets. */
  readonly values: readonly (readonly [number, number])[];
  /** Sum of the value lengths. */
  readonly valueBytes: number;
}

/** The layout of `bytes`, which decode() has already turned into `message` without error. */
export function layoutOf(bytes: Uint8Array, message: Message): MessageLayout {
  const header = decodeHeader(bytes);
  const tag = (header.flags & Flag.AUTH) !== 0 ? TAG_LENGTH : 0;
  const values: [number, number][] = [];
  let valueBytes = 0;
  if (message.type === 'READINGS') {
    // base time (6 bytes), count, then per reading: sensor id, type, delta, value.
    let at = header.length + 6 + varintLength(message.readings.length);
    for (const reading of message.readings) {
      at += 2 + varintLength(reading.delta);
      const length = valueLength(reading);
      values.push([at, at + length]);
      valueBytes += length;
      at += length;
    }
    if (at !== bytes.length - tag) throw new Error(`READINGS layout ends at ${at}, the body at ${bytes.length - tag}`);
  }
  return { header: header.length, tag, reliable: (header.flags & Flag.RELIABLE) !== 0, values, valueBytes };
}

/** Bytes per layer of a message with this layout and length. */
export function layerBytes(layout: MessageLayout, length: number): { header: number; body: number; values: number; tag: number } {
  return {
    header: layout.header,
    body: length - layout.header - layout.tag - layout.valueBytes,
    values: layout.valueBytes,
    tag: layout.tag,
  };
}

/** Writes the region of every byte of a message (laid out as `layout`) into `map` from `at`. */
export function paintMessage(map: Uint8Array, at: number, length: number, layout: MessageLayout): void {
  map.fill(Region.BODY, at, at + length);
  map.fill(Region.HEADER, at, at + layout.header);
  map.fill(Region.TAG, at + length - layout.tag, at + length);
  for (const [start, end] of layout.values) map.fill(Region.VALUES, at + start, at + end);
}

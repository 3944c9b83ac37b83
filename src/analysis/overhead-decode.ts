// Decodes the sensorwire messages of one direction of a flow with the project's codec: a TCP
// direction's reassembled stream through StreamDecoder, or a UDP datagram with decode(). Each
// result says where the message lies, so that the bytes of every frame can be put in a layer.
import { Limits } from '../protocol/constants.ts';
import { decode } from '../protocol/decode.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { StreamDecoder } from '../protocol/framing.ts';
import type { Message } from '../protocol/types.ts';
import { layoutOf, type MessageLayout, paintMessage, Region, varintLength } from './overhead-split.ts';

export type Decoded =
  | { readonly ok: true; readonly message: Message; readonly layout: MessageLayout }
  | { readonly ok: false; readonly error: ProtocolError };

/** One message of a TCP stream: its length prefix at `start`, then `length` bytes of message. */
export interface StreamItem {
  readonly start: number;
  readonly prefix: number;
  readonly length: number;
  readonly decoded: Decoded;
}

export interface DecodedStream {
  readonly items: readonly StreamItem[];
  /** Region (overhead-split.ts) of every byte of the stream. */
  readonly regions: Uint8Array;
}

function asProtocolError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  throw error;
}

/** Decodes a whole datagram (UDP limit); never throws for bad bytes. */
export function decodeDatagram(payload: Uint8Array): Decoded {
  try {
    const message = decode(payload, { maxMessageSize: Limits.MAX_UDP_MESSAGE });
    return { ok: true, message, layout: layoutOf(payload, message) };
  } catch (error) {
    return { ok: false, error: asProtocolError(error) };
  }
}

/**
 * Splits a reassembled TCP stream into messages. A malformed message inside a good frame is
 * skipped (its bytes are `malformed`); a bad length prefix ends decoding, and everything from it
 * on is `malformed`; a message the stream ends in the middle of is `undecoded`.
 */
export function decodeStream(stream: Uint8Array): DecodedStream {
  const regions = new Uint8Array(stream.length).fill(Region.UNDECODED);
  const items: StreamItem[] = [];
  const decoder = new StreamDecoder();
  const frames = decoder.write(stream);
  let at = 0;
  for (const [index, frame] of frames.entries()) {
    if (!frame.ok && decoder.error !== undefined && index === frames.length - 1) {
      // A bad length prefix: StreamDecoder's last frame, the rest of the stream, unusable.
      items.push({ start: at, prefix: 0, length: frame.bytes.length, decoded: { ok: false, error: frame.error } });
      regions.fill(Region.MALFORMED, at);
      at = stream.length;
      break;
    }
    const prefix = varintLength(frame.bytes.length);
    const body = at + prefix;
    regions.fill(Region.FRAMING, at, body);
    if (frame.ok) {
      const layout = layoutOf(frame.bytes, frame.message);
      paintMessage(regions, body, frame.bytes.length, layout);
      items.push({ start: at, prefix, length: frame.bytes.length, decoded: { ok: true, message: frame.message, layout } });
    } else {
      regions.fill(Region.MALFORMED, body, body + frame.bytes.length);
      items.push({ start: at, prefix, length: frame.bytes.length, decoded: { ok: false, error: frame.error } });
    }
    at = body + frame.bytes.length;
  }
  return { items, regions };
}

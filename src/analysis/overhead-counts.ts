// Counters of the overhead report: empty ones, sums of several, and the figures derived from them.
import { MessageType, type MessageTypeName } from '../protocol/constants.ts';
import type { ErrorCodeName } from '../protocol/errors.ts';
import {
  type Cost,
  type Counts,
  type Derived,
  type FramesBytes,
  LAYER_NAMES,
  type LayerName,
  type Layers,
  type Segments,
  type Summary,
} from './overhead-types.ts';

const SEGMENT_KEYS = ['syn', 'synAck', 'fin', 'rst', 'pureAck', 'data', 'other'] as const satisfies readonly (keyof Segments)[];
const COST_KEYS = ['handshake', 'teardown', 'session', 'steady'] as const satisfies readonly (keyof Cost)[];
const MESSAGE_NAMES = Object.keys(MessageType) as MessageTypeName[];

function fb(): FramesBytes {
  return { frames: 0, bytes: 0 };
}

export function emptyLayers(): Layers {
  return { link: 0, ip: 0, transport: 0, framing: 0, header: 0, body: 0, values: 0, tag: 0, malformed: 0, undecoded: 0, trailer: 0 };
}

export function emptyCounts(): Counts {
  const messages = {} as Record<MessageTypeName, number>;
  for (const name of MESSAGE_NAMES) messages[name] = 0;
  return {
    frames: 0,
    bytes: 0,
    layers: emptyLayers(),
    segments: { syn: fb(), synAck: fb(), fin: fb(), rst: fb(), pureAck: fb(), data: fb(), other: fb() },
    tcpRetransmissions: { frames: 0, bytes: 0, payloadBytes: 0 },
    messages,
    malformed: { messages: 0, codes: {} },
    readingsMessages: 0,
    readings: 0,
    resent: { frames: 0, bytes: 0, readings: 0 },
    cost: { handshake: fb(), teardown: fb(), session: fb(), steady: fb() },
  };
}

function addFb(into: FramesBytes, from: FramesBytes): void {
  into.frames += from.frames;
  into.bytes += from.bytes;
}

/** Adds every counter of `from` to `into`. */
export function addCounts(into: Counts, from: Counts): void {
  into.frames += from.frames;
  into.bytes += from.bytes;
  for (const layer of LAYER_NAMES) into.layers[layer] += from.layers[layer];
  for (const key of SEGMENT_KEYS) addFb(into.segments[key], from.segments[key]);
  addFb(into.tcpRetransmissions, from.tcpRetransmissions);
  into.tcpRetransmissions.payloadBytes += from.tcpRetransmissions.payloadBytes;
  for (const name of MESSAGE_NAMES) into.messages[name] += from.messages[name];
  into.malformed.messages += from.malformed.messages;
  for (const [code, n] of Object.entries(from.malformed.codes) as [ErrorCodeName, number][]) {
    into.malformed.codes[code] = (into.malformed.codes[code] ?? 0) + n;
  }
  into.readingsMessages += from.readingsMessages;
  into.readings += from.readings;
  addFb(into.resent, from.resent);
  into.resent.readings += from.resent.readings;
  for (const key of COST_KEYS) addFb(into.cost[key], from.cost[key]);
}

/** The sum of several counters. */
export function sumCounts(parts: Iterable<Counts>): Counts {
  const total = emptyCounts();
  for (const part of parts) addCounts(total, part);
  return total;
}

function ratio(n: number, d: number): number | null {
  return d === 0 ? null : n / d;
}

export function derive(c: Counts): Derived {
  let sharePercent: Record<LayerName, number> | null = null;
  if (c.bytes > 0) {
    sharePercent = emptyLayers();
    for (const layer of LAYER_NAMES) sharePercent[layer] = (100 * c.layers[layer]) / c.bytes;
  }
  const oneOff = fb();
  addFb(oneOff, c.cost.handshake);
  addFb(oneOff, c.cost.teardown);
  addFb(oneOff, c.cost.session);
  return {
    bytesPerReading: ratio(c.bytes, c.readings),
    steadyBytesPerReading: ratio(c.cost.steady.bytes, c.readings),
    efficiency: ratio(c.layers.values, c.bytes),
    sharePercent,
    oneOff,
    framesPerReading: ratio(c.frames, c.readings),
  };
}

export function summarize(c: Counts): Summary {
  return { ...c, derived: derive(c) };
}

/** Sum of the layers (equals `bytes` for every Counts the analyzer produces). */
export function layerTotal(layers: Layers): number {
  return LAYER_NAMES.reduce((sum, layer) => sum + layers[layer], 0);
}

// The analytical model: what a run should cost on the wire, from header sizes alone. Each message
// is one frame (one TCP segment or one datagram) whose size is the sum of the headers below it
// and the message's own size, and the message sizes come from the project's codec (encode()) for
// messages shaped like the device's: its HELLO with its nine-sensor catalogue, READINGS of
// `batch` readings, one ACK per message, BYE. TCP adds its handshake (SYN and SYN-ACK with the
// options they carried, ACK) and teardown (FIN, FIN, ACK), and nothing else: the model assumes
// every TCP acknowledgement rides on a segment that carries data, and no loss. Reading values are
// the payload, not overhead: the model takes their mean size per reading as measured.
//
// The report sets the model beside the measurement and explains each difference (report.ts).
import { emptyLayers } from '../analysis/overhead-counts.ts';
import type { Layers } from '../analysis/overhead-types.ts';
import { createRandom } from '../device/random.ts';
import { simulatedSensors } from '../device/sensors.ts';
import { encode } from '../protocol/index.ts';
import type { Message } from '../protocol/types.ts';
import type { ExperimentTransport, TcpHeaders } from './types.ts';

/** Header sizes on the link, bytes. */
export const ETHERNET_HEADER = 14;
export const IPV4_HEADER = 20;
export const TCP_HEADER = 20;
export const UDP_HEADER = 8;
/** TCP headers when nothing was measured: Linux's defaults (SYN: MSS, SACK permitted, timestamps, window scale; then timestamps). */
export const DEFAULT_TCP_HEADERS: TcpHeaders = { syn: 40, synAck: 40, segment: 32, options: ['MSS', 'SACK permitted', 'timestamps', 'window scale'] };

/** A representative server hold time, µs: the ACK's hold varint is 2 bytes from 128 µs to 16 ms. */
export const MODEL_HOLD_US = 1000;
/** A representative time, ms since the epoch (the u48 fields are fixed-size anyway). */
const SOME_TIME = 1_763_900_000_000;

export interface ModelInput {
  readonly transport: ExperimentTransport;
  readonly batch: number;
  readonly readings: number;
  readonly deviceId: number;
  readonly seed: number;
  readonly intervalMs: number;
  /** Mean bytes of one reading's value (with a string's length byte), as measured. */
  readonly valueBytesPerReading: number;
  /** TCP header sizes as negotiated (ignored for UDP and rudp). */
  readonly tcp?: TcpHeaders | null;
}

/** Frames and bytes, and those bytes by layer (only the layers the model knows; the rest are 0). */
export interface ModelPart {
  frames: number;
  bytes: number;
  layers: Layers;
}

export interface ModelResult {
  readonly input: ModelInput;
  /** READINGS messages: ceil(readings / batch). */
  readonly messages: number;
  readonly handshake: ModelPart;
  readonly teardown: ModelPart;
  /** HELLO, BYE and their ACKs. */
  readonly session: ModelPart;
  /** READINGS and their ACKs. */
  readonly steady: ModelPart;
  readonly total: ModelPart;
  readonly bytesPerReading: number;
  readonly steadyBytesPerReading: number;
  /** Reading value bytes ÷ wire bytes. */
  readonly efficiency: number;
  /** Sizes of single messages, from the codec (no TCP length prefix), for the report. */
  readonly sizes: { readonly hello: number; readonly readings: number; readonly ack: number; readonly bye: number; readonly header: number };
}

const emptyPart = (): ModelPart => ({ frames: 0, bytes: 0, layers: emptyLayers() });

/** Bytes of a varint (7 bits a byte), as PROTOCOL.md §1 writes them. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** The common header (§3): version·type, flags, device id, seq. */
export function headerSize(deviceId: number, seq: number): number {
  return 2 + varintSize(deviceId) + varintSize(seq);
}

/** Adds one frame carrying `message` (or nothing) to `part`. */
function addFrame(part: ModelPart, transport: ExperimentTransport, transportHeader: number, message?: { bytes: number; header: number; values: number }): void {
  const framing = message !== undefined && transport === 'tcp' ? varintSize(message.bytes) : 0;
  const l = part.layers;
  l.link += ETHERNET_HEADER;
  l.ip += IPV4_HEADER;
  l.transport += transportHeader;
  if (message !== undefined) {
    l.framing += framing;
    l.header += message.header;
    l.values += message.values;
    l.body += message.bytes - message.header - message.values;
  }
  part.frames += 1;
  part.bytes += ETHERNET_HEADER + IPV4_HEADER + transportHeader + framing + (message?.bytes ?? 0);
}

function sumParts(parts: readonly ModelPart[]): ModelPart {
  const out = emptyPart();
  for (const p of parts) {
    out.frames += p.frames;
    out.bytes += p.bytes;
    for (const k of Object.keys(out.layers) as (keyof Layers)[]) out.layers[k] += p.layers[k];
  }
  return out;
}

/** The expected frames and bytes of one run without loss. */
export function modelRun(input: ModelInput): ModelResult {
  const { transport, batch, readings, deviceId } = input;
  const reliable = transport === 'rudp';
  const tcp = input.tcp ?? DEFAULT_TCP_HEADERS;
  const segmentHeader = transport === 'tcp' ? tcp.segment : UDP_HEADER;
  const messages = Math.ceil(readings / batch);
  const sized = (m: Message, values = 0): { bytes: number; header: number; values: number } => ({
    bytes: encode(m).length,
    header: headerSize(m.deviceId, m.seq),
    values,
  });
  const ack = (seq: number, ackSeq: number): Message => ({
    type: 'ACK',
    deviceId,
    seq,
    status: 'OK',
    ackSeq,
    rxTime: SOME_TIME,
    holdUs: MODEL_HOLD_US,
    ...(reliable ? { reliable: true, rudp: { epoch: 1, window: 64, sack: [] } } : {}),
  });

  // Device seqs: HELLO 1, READINGS 2 … messages + 1, BYE messages + 2; the server's ACKs count 1, 2, … in the same order.
  const sensors = simulatedSensors(createRandom(input.seed)).map((s) => s.spec);
  const hello = sized({
    type: 'HELLO', deviceId, seq: 1, session: 1, resumeSeq: 1, intervalMs: input.intervalMs,
    model: 'sensorwire-sim', firmware: '1.0.0', sensors, ...(reliable ? { reliable: true } : {}),
  });
  const bye = sized({ type: 'BYE', deviceId, seq: messages + 2, reason: 0, ...(reliable ? { reliable: true } : {}) });

  const session = emptyPart();
  addFrame(session, transport, segmentHeader, hello);
  addFrame(session, transport, segmentHeader, sized(ack(1, 1)));
  addFrame(session, transport, segmentHeader, bye);
  addFrame(session, transport, segmentHeader, sized(ack(messages + 2, messages + 2)));

  const steady = emptyPart();
  let readingsSize = 0;
  for (let i = 0; i < messages; i++) {
    const count = Math.min(batch, readings - i * batch);
    const seq = i + 2;
    // Readings as bool values (1 byte each) with deltas under 128 ms, then the measured value size instead.
    const shape = encode({
      type: 'READINGS', deviceId, seq, baseTime: SOME_TIME,
      readings: Array.from({ length: count }, (_, k) => ({ sensor: (k % 9) + 1, delta: 0, type: 'bool' as const, value: false })),
      ...(reliable ? { reliable: true } : {}),
    }).length;
    const values = count * input.valueBytesPerReading;
    const bytes = shape - count + values;
    if (i === 0) readingsSize = bytes;
    addFrame(steady, transport, segmentHeader, { bytes, header: headerSize(deviceId, seq), values });
    addFrame(steady, transport, segmentHeader, sized(ack(seq, seq)));
  }

  const handshake = emptyPart();
  const teardown = emptyPart();
  if (transport === 'tcp') {
    addFrame(handshake, transport, tcp.syn);
    addFrame(handshake, transport, tcp.synAck);
    addFrame(handshake, transport, tcp.segment);
    for (let i = 0; i < 3; i++) addFrame(teardown, transport, tcp.segment);
  }
  const total = sumParts([handshake, teardown, session, steady]);
  return {
    input,
    messages,
    handshake,
    teardown,
    session,
    steady,
    total,
    bytesPerReading: total.bytes / readings,
    steadyBytesPerReading: steady.bytes / readings,
    efficiency: total.layers.values / total.bytes,
    sizes: { hello: hello.bytes, readings: readingsSize, ack: sized(ack(2, 2)).bytes, bye: bye.bytes, header: headerSize(deviceId, 2) },
  };
}

/** Share of the device's readings whose sensor is of the `reliable` delivery class (2 of its 9 sensors). */
export function reliableShare(seed = 1): number {
  const sensors = simulatedSensors(createRandom(seed));
  return sensors.filter((s) => s.spec.delivery === 'reliable').length / sensors.length;
}

/**
 * What loss should do, p = loss / 100 in each direction. Plain UDP: a READINGS arrives with
 * probability 1 − p, so (1 − p) of the readings are delivered, and the server sends ACKs only for
 * what arrived. TCP: everything is delivered; every data frame is sent 1 / (1 − p) times on
 * average. rudp: every `reliable` reading is delivered, but a `latest` reading (telemetry) whose
 * first copy is lost is left out of the resend when the sensor has a newer sample (PROTOCOL.md
 * §7.7), so about r + (1 − r)(1 − p) of the readings arrive, r the share of reliable ones. A
 * cumulative ACK covers a lost one, so lost ACKs cost no resend as long as a later one arrives.
 */
export function modelLoss(transport: ExperimentTransport, lossPercent: number, reliable = reliableShare()): { deliveredFraction: number; sendsPerDataFrame: number } {
  const p = lossPercent / 100;
  if (transport === 'udp') return { deliveredFraction: 1 - p, sendsPerDataFrame: 1 };
  if (transport === 'rudp') return { deliveredFraction: reliable + (1 - reliable) * (1 - p), sendsPerDataFrame: 1 / (1 - p) };
  return { deliveredFraction: 1, sendsPerDataFrame: 1 / (1 - p) };
}

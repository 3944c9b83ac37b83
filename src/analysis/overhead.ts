// What sensorwire costs on the wire, from a capture: per flow and per transport (tcp, udp, rudp),
// frames and bytes, the bytes split by layer down to the reading values, TCP control segments and
// retransmissions, sensorwire messages by type, and the one-off cost apart from the steady cost.
//
// Flows come from FlowTable, which counts frames and bytes as tshark's conversation tables do; a
// flow is selected when either of its ports is one of the sensorwire ports. Messages are decoded
// with the project's codec: a TCP direction's reassembled stream with StreamDecoder, each UDP
// datagram on its own. Bytes are then put in layers frame by frame: a TCP segment's payload by
// the stream offsets it covers (so a retransmitted segment counts its layers again, as it is on
// the wire again), a UDP payload by its message. Two passes: the first reads every frame and
// decodes, the second classifies frames once both directions of every flow are known.
import type { MessageTypeName } from '../protocol/constants.ts';
import type { Message } from '../protocol/types.ts';
import { readFileSync } from 'node:fs';
import type { CaptureFile, CaptureInterface, CaptureRecord } from './capture.ts';
import { CaptureErrorCode, CaptureFormatError, CaptureIoError } from './errors.ts';
import { type Flow, type FlowOptions, FlowTable, SegmentKind, SequenceVerdict } from './flows.ts';
import { addCounts, emptyCounts, summarize, sumCounts } from './overhead-counts.ts';
import { type Decoded, decodeDatagram, decodeStream, type StreamItem } from './overhead-decode.ts';
import { Region } from './overhead-split.ts';
import {
  type Cost,
  type Counts,
  type Endpoint,
  type FlowReport,
  type OverheadReport,
  type Segments,
  type Transport,
  TRANSPORTS,
  type TransportReport,
} from './overhead-types.ts';
import { dissectRecord, hasFlag, type Packet, type TcpHeader, TcpFlag } from './packet.ts';
import { captureRecords } from './pcap.ts';

export type * from './overhead-types.ts';

/** The port this repository's server listens on by default, for TCP and UDP alike. */
export const SENSORWIRE_PORT = 7878;

export interface OverheadOptions {
  /** Ports whose TCP and UDP flows are sensorwire traffic (default: 7878). */
  readonly ports?: readonly number[];
  /** Name of the file, for the report. */
  readonly file?: string;
  readonly flowOptions?: FlowOptions;
}

/** One direction of a selected flow while the capture is read. */
interface Direction {
  readonly counts: Counts;
  /** TCP: sequence number of stream offset 0 (as TcpDirection takes it), once a segment was seen. */
  base: number | null;
  synSeen: boolean;
  /** TCP: stream offset of the first FIN. */
  finOffset: number | null;
  /** TCP: region and phase (1 = one-off session message) of every reassembled byte. */
  regions: Uint8Array;
  phases: Uint8Array;
  items: readonly StreamItem[];
  /** "device:seq" of each HELLO and BYE sent this way, to recognise the answers to them. */
  readonly sessionKeys: Set<string>;
  /** "device:seq" of the READINGS seen this way in the current session. */
  readonly readingsSeen: Set<string>;
  session: number | null;
}

interface FlowState {
  readonly flow: Flow;
  readonly aToB: Direction;
  readonly bToA: Direction;
  reliable: boolean;
  readonly deviceIds: Set<number>;
}

type Note =
  | {
      readonly protocol: 'tcp';
      readonly state: FlowState;
      readonly fromA: boolean;
      readonly packet: Packet;
      readonly tcp: TcpHeader;
      readonly kind: SegmentKind;
      readonly verdict: SequenceVerdict;
      /** Stream offset of the segment's first payload byte. */
      readonly dataStart: number;
    }
  | {
      readonly protocol: 'udp';
      readonly state: FlowState;
      readonly fromA: boolean;
      readonly packet: Packet;
      /** null when the datagram was not captured whole. */
      readonly decoded: Decoded | null;
      readonly resent: boolean;
    };

const PHASE_STEADY = 0;
const PHASE_SESSION = 1;

const SEGMENT_KEY: Record<SegmentKind, keyof Segments> = {
  [SegmentKind.SYN]: 'syn',
  [SegmentKind.SYN_ACK]: 'synAck',
  [SegmentKind.FIN]: 'fin',
  [SegmentKind.RST]: 'rst',
  [SegmentKind.PURE_ACK]: 'pureAck',
  [SegmentKind.DATA]: 'data',
  [SegmentKind.OTHER]: 'other',
};

const REGION_LAYER = ['framing', 'header', 'body', 'values', 'tag', 'malformed', 'undecoded'] as const;

function newDirection(): Direction {
  return {
    counts: emptyCounts(),
    base: null,
    synSeen: false,
    finOffset: null,
    regions: new Uint8Array(0),
    phases: new Uint8Array(0),
    items: [],
    sessionKeys: new Set(),
    readingsSeen: new Set(),
    session: null,
  };
}

/** Signed distance from a to b modulo 2³² (as tcp-stream.ts computes it). */
function seqDiff(a: number, b: number): number {
  return (b - a) | 0;
}

function key(deviceId: number, seq: number): string {
  return `${deviceId}:${seq}`;
}

/**
 * Counts one decoded message sent in direction `dir`; returns true when it is a READINGS whose
 * seq was seen before in this direction and session (a resend).
 */
function countMessage(dir: Direction, decoded: Decoded): boolean {
  const c = dir.counts;
  if (!decoded.ok) {
    c.malformed.messages++;
    c.malformed.codes[decoded.error.code] = (c.malformed.codes[decoded.error.code] ?? 0) + 1;
    return false;
  }
  const m = decoded.message;
  c.messages[m.type as MessageTypeName]++;
  if (m.type === 'HELLO') {
    if (dir.session !== m.session) dir.readingsSeen.clear();
    dir.session = m.session;
  }
  if (m.type === 'HELLO' || m.type === 'BYE') dir.sessionKeys.add(key(m.deviceId, m.seq));
  if (m.type !== 'READINGS') return false;
  const k = key(m.deviceId, m.seq);
  if (dir.readingsSeen.has(k)) return true;
  dir.readingsSeen.add(k);
  c.readingsMessages++;
  c.readings += m.readings.length;
  return false;
}

/** HELLO, BYE, and the ACK or ERROR that answers one the peer sent, are paid once per session. */
function isSessionMessage(m: Message, peerSessionKeys: ReadonlySet<string>): boolean {
  if (m.type === 'HELLO' || m.type === 'BYE') return true;
  if (m.type === 'ACK') return peerSessionKeys.has(key(m.deviceId, m.ackSeq));
  if (m.type === 'ERROR') return peerSessionKeys.has(key(m.deviceId, m.refSeq));
  return false;
}

function isReliable(decoded: Decoded | null): boolean {
  return decoded?.ok === true && decoded.layout.reliable;
}

class Analysis {
  private readonly ports: ReadonlySet<number>;
  private readonly table: FlowTable;
  private readonly states = new Map<Flow, FlowState | null>();
  private readonly notes: Note[] = [];

  constructor(ports: readonly number[], flowOptions: FlowOptions) {
    this.ports = new Set(ports);
    this.table = new FlowTable(flowOptions);
  }

  /** Pass 1: one frame. */
  add(packet: Packet, timestampNs: bigint | null, index: number): void {
    const update = this.table.add(packet, timestampNs, index);
    if (update === null) return;
    const state = this.stateOf(update.flow);
    if (state === null) return;
    const dir = update.fromA ? state.aToB : state.bToA;
    const transport = packet.transport;
    if (transport?.protocol === 'tcp' && update.kind !== undefined && update.verdict !== undefined) {
      const syn = hasFlag(transport, TcpFlag.SYN);
      if (dir.base === null) dir.base = syn ? (transport.seq + 1) >>> 0 : transport.seq;
      if (syn) dir.synSeen = true;
      const dataStart = seqDiff(dir.base, transport.seq) + (syn ? 1 : 0);
      if (hasFlag(transport, TcpFlag.FIN) && dir.finOffset === null) dir.finOffset = dataStart + packet.payloadLength;
      this.notes.push({
        protocol: 'tcp', state, fromA: update.fromA, packet, tcp: transport,
        kind: update.kind, verdict: update.verdict, dataStart,
      });
      return;
    }
    // A datagram cut by the snap length, or the first fragment of a larger one, cannot be decoded.
    const whole = packet.payload.length === packet.payloadLength && (packet.ip?.fragment ?? null) === null;
    const decoded = whole ? decodeDatagram(packet.payload) : null;
    if (isReliable(decoded)) state.reliable = true;
    if (decoded?.ok) state.deviceIds.add(decoded.message.deviceId);
    const resent = decoded === null ? false : countMessage(dir, decoded);
    this.notes.push({ protocol: 'udp', state, fromA: update.fromA, packet, decoded, resent });
  }

  private stateOf(flow: Flow): FlowState | null {
    let state = this.states.get(flow);
    if (state === undefined) {
      const selected = this.ports.has(flow.a.port) || this.ports.has(flow.b.port);
      state = selected ? { flow, aToB: newDirection(), bToA: newDirection(), reliable: false, deviceIds: new Set() } : null;
      this.states.set(flow, state);
    }
    return state;
  }

  private selected(): FlowState[] {
    return [...this.states.values()].filter((s): s is FlowState => s !== null);
  }

  /** Between the passes: decode every TCP stream, then mark the one-off bytes of each. */
  decodeStreams(): void {
    const tcp = this.selected().filter((s) => s.flow.protocol === 'tcp');
    for (const state of tcp) {
      for (const [dir, stats] of [[state.aToB, state.flow.aToB], [state.bToA, state.flow.bToA]] as const) {
        const decoded = decodeStream(stats.stream?.bytes() ?? new Uint8Array(0));
        dir.regions = decoded.regions;
        dir.items = decoded.items;
        for (const item of decoded.items) {
          if (item.decoded.ok) state.deviceIds.add(item.decoded.message.deviceId);
          if (countMessage(dir, item.decoded) && item.decoded.ok && item.decoded.message.type === 'READINGS') {
            // A READINGS sent again on the same connection: counted per message, stream bytes.
            dir.counts.resent.frames++;
            dir.counts.resent.bytes += item.prefix + item.length;
            dir.counts.resent.readings += item.decoded.message.readings.length;
          }
        }
      }
    }
    for (const state of tcp) {
      for (const [dir, peer] of [[state.aToB, state.bToA], [state.bToA, state.aToB]] as const) {
        dir.phases = new Uint8Array(dir.regions.length);
        for (const item of dir.items) {
          if (item.decoded.ok && isSessionMessage(item.decoded.message, peer.sessionKeys)) {
            dir.phases.fill(PHASE_SESSION, item.start, item.start + item.prefix + item.length);
          }
        }
      }
    }
  }

  /** Pass 2: every frame of a selected flow into its direction's counters. */
  countFrames(): void {
    for (const note of this.notes) {
      const { state, fromA, packet } = note;
      const dir = fromA ? state.aToB : state.bToA;
      const peer = fromA ? state.bToA : state.aToB;
      const c = dir.counts;
      c.frames++;
      c.bytes += packet.originalLength;
      c.layers.link += packet.bytes.link;
      c.layers.ip += packet.bytes.ip;
      c.layers.transport += packet.bytes.transport;
      c.layers.trailer += packet.bytes.trailer;
      let phase: keyof Cost;
      if (note.protocol === 'tcp') {
        phase = this.countSegment(c, dir, peer, note);
      } else {
        phase = this.countDatagram(c, peer, note.packet, note.decoded);
        if (note.resent) {
          c.resent.frames++;
          c.resent.bytes += packet.originalLength;
          if (note.decoded?.ok && note.decoded.message.type === 'READINGS') c.resent.readings += note.decoded.message.readings.length;
        }
      }
      c.cost[phase].frames++;
      c.cost[phase].bytes += packet.originalLength;
    }
  }

  private countSegment(c: Counts, dir: Direction, peer: Direction, note: Extract<Note, { protocol: 'tcp' }>): keyof Cost {
    const { packet, kind } = note;
    const segment = c.segments[SEGMENT_KEY[kind]];
    segment.frames++;
    segment.bytes += packet.originalLength;
    if (note.verdict === SequenceVerdict.RETRANSMISSION) {
      c.tcpRetransmissions.frames++;
      c.tcpRetransmissions.bytes += packet.originalLength;
      c.tcpRetransmissions.payloadBytes += packet.payloadLength;
    }
    // The payload, byte by byte, by the stream offsets it carries.
    let steady = false;
    const end = note.dataStart + packet.payloadLength;
    for (let at = note.dataStart; at < end; at++) {
      const known = at >= 0 && at < dir.regions.length;
      const region = known ? (dir.regions[at] ?? Region.UNDECODED) : Region.UNDECODED;
      c.layers[REGION_LAYER[region] ?? 'undecoded']++;
      if (!known || dir.phases[at] !== PHASE_SESSION) steady = true;
    }
    if (kind === SegmentKind.SYN || kind === SegmentKind.SYN_ACK) return 'handshake';
    if (kind === SegmentKind.RST) return 'teardown';
    if (packet.payloadLength > 0) return steady ? 'steady' : 'session';
    if (kind === SegmentKind.FIN) return 'teardown';
    if (kind === SegmentKind.PURE_ACK) return this.ackPhase(note.tcp, peer);
    return 'steady';
  }

  /** A pure ACK costs what the last byte it acknowledges costs: the peer's SYN, FIN, or a message. */
  private ackPhase(tcp: TcpHeader, peer: Direction): keyof Cost {
    if (peer.base === null) return 'steady';
    const acked = seqDiff(peer.base, tcp.ack);
    if (peer.finOffset !== null && acked > peer.finOffset) return 'teardown';
    if (acked <= 0) return peer.synSeen && acked === 0 ? 'handshake' : 'steady';
    return peer.phases[acked - 1] === PHASE_SESSION ? 'session' : 'steady';
  }

  private countDatagram(c: Counts, peer: Direction, packet: Packet, decoded: Decoded | null): keyof Cost {
    const length = packet.payloadLength;
    if (decoded === null) {
      c.layers.undecoded += length;
      return 'steady';
    }
    if (!decoded.ok) {
      c.layers.malformed += length;
      return 'steady';
    }
    const { layout } = decoded;
    c.layers.header += layout.header;
    c.layers.tag += layout.tag;
    c.layers.values += layout.valueBytes;
    c.layers.body += length - layout.header - layout.tag - layout.valueBytes;
    return isSessionMessage(decoded.message, peer.sessionKeys) ? 'session' : 'steady';
  }

  report(capture: CaptureFile, file: string, ports: readonly number[]): OverheadReport {
    const flows = this.selected().map((s) => this.flowReport(s));
    const transports: TransportReport[] = [];
    for (const transport of TRANSPORTS) {
      const of = flows.filter((f) => f.transport === transport);
      if (of.length === 0) continue;
      transports.push({ transport, flows: of.length, ...summarize(sumCounts(of)) });
    }
    const total = summarize(sumCounts(flows));
    return {
      file,
      format: capture.format,
      ports: [...ports],
      capture: {
        frames: capture.records.length,
        bytes: capture.records.reduce((sum, r) => sum + r.originalLength, 0),
      },
      truncated: null,
      selected: { frames: total.frames, bytes: total.bytes, flows: flows.length },
      total,
      transports,
      flows,
    };
  }

  private flowReport(state: FlowState): FlowReport {
    const { flow } = state;
    const counts = emptyCounts();
    addCounts(counts, state.aToB.counts);
    addCounts(counts, state.bToA.counts);
    const transport: Transport = flow.protocol === 'tcp' ? 'tcp' : state.reliable ? 'rudp' : 'udp';
    const a: Endpoint = { ...flow.a };
    const b: Endpoint = { ...flow.b };
    const serverIsA = !this.ports.has(b.port) && this.ports.has(a.port);
    const first = flow.firstTimestampNs;
    const last = flow.lastTimestampNs;
    return {
      id: flow.id,
      transport,
      a,
      b,
      server: serverIsA ? a : b,
      device: serverIsA ? b : a,
      deviceIds: [...state.deviceIds].sort((x, y) => x - y),
      start: first === null ? null : isoTime(first),
      durationMs: first === null || last === null ? null : Number(last - first) / 1e6,
      ...summarize(counts),
      aToB: state.aToB.counts,
      bToA: state.bToA.counts,
    };
  }
}

function isoTime(ns: bigint): string | null {
  const date = new Date(Number(ns / 1_000_000n));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Analyzes a capture already read into memory. */
export function analyzeCapture(capture: CaptureFile, options: OverheadOptions = {}): OverheadReport {
  const ports = options.ports !== undefined && options.ports.length > 0 ? options.ports : [SENSORWIRE_PORT];
  const analysis = new Analysis(ports, options.flowOptions ?? {});
  for (const record of capture.records) analysis.add(dissectRecord(record), record.timestampNs, record.index);
  analysis.decodeStreams();
  analysis.countFrames();
  return analysis.report(capture, options.file ?? '', ports);
}

/**
 * Reads a capture file and analyzes it. A file that ends in the middle of a record (tcpdump
 * killed while writing) is analyzed up to its last whole frame, and the report says so in
 * `truncated`. Throws CaptureError when the file cannot be read or is not a capture.
 */
export function analyzeFile(path: string, options: Omit<OverheadOptions, 'file'> = {}): OverheadReport {
  let bytes: Uint8Array;
  try {
    const buffer = readFileSync(path);
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (cause) {
    throw new CaptureIoError(path, `cannot read: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const interfaces: CaptureInterface[] = [];
  const records: CaptureRecord[] = [];
  let truncated: string | null = null;
  try {
    for (const record of captureRecords(bytes, (iface) => interfaces.push(iface))) records.push(record);
  } catch (error) {
    const cutShort = error instanceof CaptureFormatError && error.code === CaptureErrorCode.TRUNCATED && records.length > 0;
    if (!cutShort) throw error;
    truncated = error.message;
  }
  const format = bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0) === PCAPNG_MAGIC ? 'pcapng' : 'pcap';
  const report = analyzeCapture({ format, byteOrder: 'little', interfaces, records }, { ...options, file: path });
  return { ...report, truncated };
}

/** The block type of a pcapng Section Header Block, the same in either byte order. */
const PCAPNG_MAGIC = 0x0a0d0d0a;

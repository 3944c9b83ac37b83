// Groups dissected frames into bidirectional TCP and UDP flows, counting frames and bytes per
// direction the way tshark's conversation tables do (-z conv,tcp / conv,udp): every frame
// with a decoded TCP or UDP header counts once, for its whole length on the wire (frame.len).
// Endpoint A is the source of the flow's first frame. TCP segments are classified (SYN,
// SYN-ACK, FIN, RST, pure ACK, data), retransmissions (segments whose whole sequence range was
// already seen in that direction) and out-of-order segments are counted, and each direction's
// payload is reassembled in order (bounded; see tcp-stream.ts). A SYN that opens a new
// connection on the same ports (a different initial sequence number) starts a new flow.
import type { CaptureRecord } from './capture.ts';
import { dissectRecord, type LayerBytes, type Packet } from './packet.ts';
import { hasFlag, type TcpHeader, TcpFlag } from './tcp.ts';
import { DEFAULT_STREAM_LIMITS, SequenceVerdict, type StreamLimits, TcpDirection } from './tcp-stream.ts';

export { DEFAULT_STREAM_LIMITS, SequenceVerdict, TcpDirection } from './tcp-stream.ts';
export type { StreamLimits } from './tcp-stream.ts';

export const FlowProtocol = {
  TCP: 'tcp',
  UDP: 'udp',
} as const;
export type FlowProtocol = (typeof FlowProtocol)[keyof typeof FlowProtocol];

/** One kind per TCP segment; when several apply the first listed wins. */
export const SegmentKind = {
  RST: 'rst',
  SYN_ACK: 'syn-ack',
  SYN: 'syn',
  FIN: 'fin',
  DATA: 'data',
  PURE_ACK: 'pure-ack',
  /** No ACK, no payload, none of SYN/FIN/RST. */
  OTHER: 'other',
} as const;
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

/** Classifies a TCP segment carrying `payloadLength` bytes of payload. */
export function classifySegment(tcp: TcpHeader, payloadLength: number): SegmentKind {
  if (hasFlag(tcp, TcpFlag.RST)) return SegmentKind.RST;
  if (hasFlag(tcp, TcpFlag.SYN)) return hasFlag(tcp, TcpFlag.ACK) ? SegmentKind.SYN_ACK : SegmentKind.SYN;
  if (hasFlag(tcp, TcpFlag.FIN)) return SegmentKind.FIN;
  if (payloadLength > 0) return SegmentKind.DATA;
  if (hasFlag(tcp, TcpFlag.ACK)) return SegmentKind.PURE_ACK;
  return SegmentKind.OTHER;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** TCP segment counts of one direction. Flag counts overlap: a FIN carrying data is in both `fin` and `data`. */
export interface TcpCounts {
  /** SYN without ACK. */
  syn: number;
  synAck: number;
  /** Segments with FIN set. */
  fin: number;
  /** Segments with RST set. */
  rst: number;
  /** ACK set, no payload, no SYN/FIN/RST. */
  pureAck: number;
  /** Segments with payload. */
  data: number;
  /** Segments whose whole sequence range had already been seen in this direction. */
  retransmissions: number;
  /** Payload bytes carried by those retransmissions. */
  retransmittedBytes: number;
  /** Segments filling a gap below the highest sequence number seen (reordered or lost before the capture point). */
  outOfOrder: number;
  /** Zero- or one-byte segments one below the next sequence number, sent to probe a peer. */
  keepAlives: number;
}

export interface UdpDatagram {
  readonly timestampNs: bigint | null;
  /** Captured payload (shorter than `length` if the frame was truncated). */
  readonly payload: Uint8Array;
  /** Payload length on the wire. */
  readonly length: number;
}

export interface DirectionStats {
  frames: number;
  /** Sum of frame lengths on the wire (tshark's conversation "Bytes"). */
  bytes: number;
  /** Sum of captured frame lengths. */
  capturedBytes: number;
  /** The wire bytes split by layer. */
  layers: { link: number; ip: number; transport: number; payload: number; trailer: number };
  /** Zero for UDP flows. */
  tcp: TcpCounts;
  /** TCP: the reassembled payload of this direction; null for UDP. */
  stream: TcpDirection | null;
  /** UDP: the datagrams of this direction, up to the limit; empty for TCP. */
  datagrams: UdpDatagram[];
  /** UDP datagrams not kept because of the limit. */
  datagramsDropped: number;
}

export interface Flow {
  /** Position in order of first appearance. */
  readonly id: number;
  readonly protocol: FlowProtocol;
  /** Source of the first frame. */
  readonly a: Endpoint;
  readonly b: Endpoint;
  readonly aToB: DirectionStats;
  readonly bToA: DirectionStats;
  firstTimestampNs: bigint | null;
  lastTimestampNs: bigint | null;
  /** Frame indices (CaptureRecord.index) of the flow's frames, if given to add(). */
  readonly frameIndices: number[];
}

export interface FlowOptions {
  readonly streamLimits?: StreamLimits;
  /**
   * Count TCP frames whose header (options included) was cut short by the snap length. Off by
   * default, as tshark leaves them out of its conversation tables; such frames are then
   * counted in `unattributed` and `truncatedHeaders`.
   */
  readonly countTruncatedHeaders?: boolean;
  /** Payload bytes of UDP datagrams kept per direction. */
  readonly maxDatagramBytes?: number;
}

/** What add() did with a frame. */
export interface FlowUpdate {
  readonly flow: Flow;
  /** True when the frame went from A to B. */
  readonly fromA: boolean;
  /** TCP only. */
  readonly kind: SegmentKind | undefined;
  /** TCP only. */
  readonly verdict: SequenceVerdict | undefined;
}

function emptyCounts(): TcpCounts {
  return {
    syn: 0,
    synAck: 0,
    fin: 0,
    rst: 0,
    pureAck: 0,
    data: 0,
    retransmissions: 0,
    retransmittedBytes: 0,
    outOfOrder: 0,
    keepAlives: 0,
  };
}

function emptyDirection(protocol: FlowProtocol, limits: StreamLimits): DirectionStats {
  return {
    frames: 0,
    bytes: 0,
    capturedBytes: 0,
    layers: { link: 0, ip: 0, transport: 0, payload: 0, trailer: 0 },
    tcp: emptyCounts(),
    stream: protocol === FlowProtocol.TCP ? new TcpDirection(limits) : null,
    datagrams: [],
    datagramsDropped: 0,
  };
}

function addLayers(into: DirectionStats['layers'], bytes: LayerBytes): void {
  into.link += bytes.link;
  into.ip += bytes.ip;
  into.transport += bytes.transport;
  into.payload += bytes.payload;
  into.trailer += bytes.trailer;
}

function endpointKey(e: Endpoint): string {
  return `${e.address} ${e.port}`;
}

function flowKey(protocol: FlowProtocol, x: Endpoint, y: Endpoint): string {
  const [first, second] = [endpointKey(x), endpointKey(y)].sort();
  return `${protocol} ${first} ${second}`;
}

/** Frames and bytes of both directions together. */
export function flowTotals(flow: Flow): { frames: number; bytes: number } {
  return { frames: flow.aToB.frames + flow.bToA.frames, bytes: flow.aToB.bytes + flow.bToA.bytes };
}

export class FlowTable {
  private readonly byKey = new Map<string, Flow>();
  private readonly all: Flow[] = [];
  private readonly limits: StreamLimits;
  private readonly maxDatagramBytes: number;
  private readonly datagramBytes = new Map<DirectionStats, number>();
  private readonly countTruncatedHeaders: boolean;
  /** Frames without a decoded TCP or UDP header (ARP, ICMP, later IP fragments, malformed, truncated). */
  readonly unattributed = { frames: 0, bytes: 0 };
  /** TCP frames left out because their header was not fully captured (see FlowOptions). */
  truncatedHeaders = 0;

  constructor(options: FlowOptions = {}) {
    this.limits = options.streamLimits ?? DEFAULT_STREAM_LIMITS;
    this.maxDatagramBytes = options.maxDatagramBytes ?? DEFAULT_STREAM_LIMITS.maxBytes;
    this.countTruncatedHeaders = options.countTruncatedHeaders ?? false;
  }

  /** Flows in order of first appearance. */
  flows(): readonly Flow[] {
    return this.all;
  }

  /** Adds one dissected frame. Returns null (and counts it as unattributed) if it is not TCP or UDP. */
  add(packet: Packet, timestampNs: bigint | null = null, frameIndex?: number): FlowUpdate | null {
    const ip = packet.ip;
    const transport = packet.transport;
    const cutShort = transport?.protocol === 'tcp' && transport.optionsTruncated && !this.countTruncatedHeaders;
    if (cutShort) this.truncatedHeaders++;
    if (ip === null || transport === null || cutShort) {
      this.unattributed.frames++;
      this.unattributed.bytes += packet.originalLength;
      return null;
    }
    const source: Endpoint = { address: ip.source, port: transport.sourcePort };
    const destination: Endpoint = { address: ip.destination, port: transport.destinationPort };
    const protocol = transport.protocol;
    const key = flowKey(protocol, source, destination);

    let flow = this.byKey.get(key);
    if (flow !== undefined && transport.protocol === 'tcp' && this.isNewConnection(flow, source, transport)) {
      flow = undefined;
    }
    if (flow === undefined) {
      flow = {
        id: this.all.length,
        protocol,
        a: source,
        b: destination,
        aToB: emptyDirection(protocol, this.limits),
        bToA: emptyDirection(protocol, this.limits),
        firstTimestampNs: timestampNs,
        lastTimestampNs: timestampNs,
        frameIndices: [],
      };
      this.byKey.set(key, flow);
      this.all.push(flow);
    }

    const fromA = endpointKey(flow.a) === endpointKey(source);
    const direction = fromA ? flow.aToB : flow.bToA;
    direction.frames++;
    direction.bytes += packet.originalLength;
    direction.capturedBytes += packet.capturedLength;
    addLayers(direction.layers, packet.bytes);
    if (timestampNs !== null) {
      if (flow.firstTimestampNs === null || timestampNs < flow.firstTimestampNs) flow.firstTimestampNs = timestampNs;
      if (flow.lastTimestampNs === null || timestampNs > flow.lastTimestampNs) flow.lastTimestampNs = timestampNs;
    }
    if (frameIndex !== undefined) flow.frameIndices.push(frameIndex);

    // TCP directions always have a stream, UDP ones never.
    if (transport.protocol === 'udp' || direction.stream === null) {
      this.keepDatagram(direction, packet, timestampNs);
      return { flow, fromA, kind: undefined, verdict: undefined };
    }
    const kind = classifySegment(transport, packet.payloadLength);
    const verdict = this.countSegment(direction.tcp, direction.stream, transport, packet);
    return { flow, fromA, kind, verdict };
  }

  /** A SYN without ACK whose sequence number differs from the one that opened this flow. */
  private isNewConnection(flow: Flow, source: Endpoint, tcp: TcpHeader): boolean {
    if (!hasFlag(tcp, TcpFlag.SYN) || hasFlag(tcp, TcpFlag.ACK)) return false;
    const fromA = endpointKey(flow.a) === endpointKey(source);
    const initial = (fromA ? flow.aToB : flow.bToA).stream?.initialSeq ?? null;
    return initial !== null && initial !== tcp.seq;
  }

  private countSegment(counts: TcpCounts, stream: TcpDirection, tcp: TcpHeader, packet: Packet): SequenceVerdict {
    const syn = hasFlag(tcp, TcpFlag.SYN);
    const fin = hasFlag(tcp, TcpFlag.FIN);
    const rst = hasFlag(tcp, TcpFlag.RST);
    const ack = hasFlag(tcp, TcpFlag.ACK);
    if (syn && !ack) counts.syn++;
    if (syn && ack) counts.synAck++;
    if (fin) counts.fin++;
    if (rst) counts.rst++;
    if (packet.payloadLength > 0) counts.data++;
    if (ack && packet.payloadLength === 0 && !syn && !fin && !rst) counts.pureAck++;
    const verdict = stream.add({ seq: tcp.seq, syn, fin, rst, payloadLength: packet.payloadLength, payload: packet.payload });
    if (verdict === SequenceVerdict.RETRANSMISSION) {
      counts.retransmissions++;
      counts.retransmittedBytes += packet.payloadLength;
    } else if (verdict === SequenceVerdict.KEEP_ALIVE) {
      counts.keepAlives++;
    } else if (verdict === SequenceVerdict.OUT_OF_ORDER) {
      counts.outOfOrder++;
    }
    return verdict;
  }

  private keepDatagram(direction: DirectionStats, packet: Packet, timestampNs: bigint | null): void {
    const used = this.datagramBytes.get(direction) ?? 0;
    if (used + packet.payload.length > this.maxDatagramBytes) {
      direction.datagramsDropped++;
      return;
    }
    this.datagramBytes.set(direction, used + packet.payload.length);
    direction.datagrams.push({ timestampNs, payload: packet.payload, length: packet.payloadLength });
  }
}

/** Dissects every record and groups the frames into flows. */
export function buildFlows(records: Iterable<CaptureRecord>, options: FlowOptions = {}): FlowTable {
  const table = new FlowTable(options);
  for (const record of records) table.add(dissectRecord(record), record.timestampNs, record.index);
  return table;
}

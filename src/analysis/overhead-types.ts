// The shape of `sensorwire analyze --json`: one JSON document, an OverheadReport. Every byte
// count is a count of bytes on the wire (frame.len), so each `layers` object adds up exactly to
// the `bytes` beside it, and a flow's `frames` and `bytes` equal tshark's conversation table
// row for it (-z conv,tcp / -z conv,udp).
//
//   {
//     "file": "capture.pcap", "format": "pcap", "ports": [7878],
//     "capture": { "frames": 120, "bytes": 9000 },          // the whole file
//     "truncated": null,                                     // or why the file ends early
//     "selected": { "frames": 92, "bytes": 7169, "flows": 2 }, // frames of flows on those ports
//     "total": Summary,                                        // every selected flow
//     "transports": [ { "transport": "tcp", "flows": 1, ...Summary }, ... ],  // tcp, udp, rudp present
//     "flows": [ { "id": 0, "transport": "tcp", "a": {address, port}, "b": {...},
//                  "device": {...}, "server": {...}, "deviceIds": [42], "start": ISO time | null, "durationMs": n,
//                  ...Summary, "aToB": Counts, "bToA": Counts }, ... ]
//   }
//
// Summary = Counts + { "derived": Derived }. See the interfaces below for each field.
import type { MessageTypeName } from '../protocol/constants.ts';
import type { ErrorCodeName } from '../protocol/errors.ts';

export type Transport = 'tcp' | 'udp' | 'rudp';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'udp', 'rudp'];

/**
 * Wire bytes by layer. The sensorwire layers split the TCP or UDP payload:
 * `framing` + `header` + `body` + `values` + `tag` + `malformed` + `undecoded` = payload.
 */
export interface Layers {
  /** Link header (Ethernet, Linux cooked, loopback …), VLAN tags included. */
  link: number;
  /** IPv4 header with options, or IPv6 header with extension headers. */
  ip: number;
  /** TCP header with options, or the 8-byte UDP header. */
  transport: number;
  /** TCP only: the varint length prefix before each message (PROTOCOL.md §2). */
  framing: number;
  /** The common header of PROTOCOL.md §3 (version·type, flags, device id, seq). */
  header: number;
  /** Message bodies other than reading values: base time, counts, sensor ids, types, deltas, ACK fields … */
  body: number;
  /** Reading values, the payload proper (a string or bytes value with its length byte). */
  values: number;
  /** Authentication tags (8 bytes per message with AUTH). */
  tag: number;
  /** Payload that did not decode as a message (malformed frames or datagrams, bytes after a bad TCP prefix). */
  malformed: number;
  /**
   * Payload that could not be decoded because it is not all there: not captured (snap length), a
   * TCP gap never filled, a message the capture ends in the middle of, or past the reassembly limit.
   */
  undecoded: number;
  /** Bytes after the IP datagram: Ethernet padding, a captured FCS. */
  trailer: number;
}
export type LayerName = keyof Layers;
export const LAYER_NAMES: readonly LayerName[] = [
  'link', 'ip', 'transport', 'framing', 'header', 'body', 'values', 'tag', 'malformed', 'undecoded', 'trailer',
];

export interface FramesBytes {
  frames: number;
  bytes: number;
}

/** TCP segments by kind (frames and wire bytes); all zero for UDP. A FIN carrying data is a `fin`. */
export interface Segments {
  syn: FramesBytes;
  synAck: FramesBytes;
  fin: FramesBytes;
  rst: FramesBytes;
  /** ACK set, no payload, no SYN/FIN/RST. */
  pureAck: FramesBytes;
  /** Segments with payload (and no SYN/FIN/RST). */
  data: FramesBytes;
  /** No ACK, no payload, none of SYN/FIN/RST. */
  other: FramesBytes;
}

/**
 * Where the wire bytes went. `handshake` (SYN, SYN-ACK, the ACK of the SYN-ACK), `teardown`
 * (FIN, RST, ACKs of a FIN) and `session` (frames carrying only HELLO, BYE, and the ACKs that
 * answer them, plus TCP pure ACKs of those bytes) are paid once per connection or session; the
 * rest, `steady`, is what the readings cost as they flow. The four add up to the frames and bytes.
 */
export interface Cost {
  handshake: FramesBytes;
  teardown: FramesBytes;
  session: FramesBytes;
  steady: FramesBytes;
}

export interface Malformed {
  /** TCP frames or UDP datagrams that did not decode (a bad TCP length prefix counts once). */
  messages: number;
  /** Of those, by error code name. */
  codes: Partial<Record<ErrorCodeName, number>>;
}

/** Counters of one direction, one flow, one transport or everything selected. */
export interface Counts {
  frames: number;
  bytes: number;
  layers: Layers;
  segments: Segments;
  /** TCP segments whose whole sequence range had been seen before (frames, wire bytes, payload bytes). */
  tcpRetransmissions: FramesBytes & { payloadBytes: number };
  /**
   * Decoded sensorwire messages by type. UDP: one per datagram, copies included. TCP: each
   * message of the reassembled stream once (TCP retransmissions are counted as segments).
   */
  messages: Record<MessageTypeName, number>;
  malformed: Malformed;
  /** READINGS messages, first copies only. */
  readingsMessages: number;
  /** Readings in those messages. */
  readings: number;
  /**
   * A READINGS whose (device id, seq) was already seen in the same direction of the flow: on rudp
   * (and plain UDP after UNKNOWN_DEVICE) a retransmission. UDP: `frames` and their wire `bytes`;
   * TCP (a resend on the same connection): one "frame" per message, `bytes` its prefix and message.
   */
  resent: FramesBytes & { readings: number };
  cost: Cost;
}

/** Figures computed from Counts; null where a count they divide by is 0. */
export interface Derived {
  /** All wire bytes ÷ readings. */
  bytesPerReading: number | null;
  /** Steady-state wire bytes ÷ readings: the cost of one more reading, without the one-off cost. */
  steadyBytesPerReading: number | null;
  /** Reading value bytes ÷ wire bytes (0 … 1). */
  efficiency: number | null;
  /** Each layer's share of the wire bytes, in percent. */
  sharePercent: Record<LayerName, number> | null;
  /** handshake + teardown + session. */
  oneOff: FramesBytes;
  /** Frames ÷ readings. */
  framesPerReading: number | null;
}

export interface Summary extends Counts {
  derived: Derived;
}

export interface Endpoint {
  address: string;
  port: number;
}

export interface FlowReport extends Summary {
  /** Position of the flow in the capture (order of first frame), counting every flow. */
  id: number;
  transport: Transport;
  /** Source of the flow's first frame (tshark's "Address A"). */
  a: Endpoint;
  b: Endpoint;
  /** The endpoint on a selected port (b when both are), and the other one. */
  server: Endpoint;
  device: Endpoint;
  /** Device ids of the messages decoded in the flow, ascending. */
  deviceIds: number[];
  /** Time of the first frame (ISO 8601), null when the capture has no timestamps. */
  start: string | null;
  durationMs: number | null;
  aToB: Counts;
  bToA: Counts;
}

export interface TransportReport extends Summary {
  transport: Transport;
  flows: number;
}

export interface OverheadReport {
  file: string;
  format: 'pcap' | 'pcapng';
  ports: number[];
  capture: FramesBytes;
  /** Why reading stopped early when the file ends in the middle of a record, else null. */
  truncated: string | null;
  selected: FramesBytes & { flows: number };
  total: Summary;
  transports: TransportReport[];
  flows: FlowReport[];
}

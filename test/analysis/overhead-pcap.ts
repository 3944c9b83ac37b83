// Hand-built captures of sensorwire traffic for the analyzer and dissector tests: the protocol's
// test vectors as UDP datagrams, or as one TCP connection (handshake, the frames cut into
// segments of a chosen size, each acknowledged, teardown). Ethernet, IPv4, 127.0.0.1.
import { TcpFlag } from '../../src/analysis/packet.ts';
import { tcp4Frame, udp4Frame } from './frames.ts';
import { classicPcap } from './pcap-build.ts';

const HOST = '127.0.0.1';
const { SYN, ACK, FIN, PSH } = TcpFlag;

/** A classic little-endian Ethernet pcap of these frames, one microsecond apart. */
export function pcapOf(frames: readonly Uint8Array[]): Uint8Array {
  return classicPcap({
    order: 'little',
    linkType: 1,
    records: frames.map((data, i) => ({ data, seconds: 1_763_900_000, fraction: i })),
  });
}

/** One datagram per payload from clientPort to serverPort. */
export function udpFrames(clientPort: number, serverPort: number, payloads: readonly Uint8Array[]): Uint8Array[] {
  return payloads.map((p) => udp4Frame(HOST, HOST, clientPort, serverPort, p));
}

export interface TcpConversation {
  readonly clientPort: number;
  readonly serverPort: number;
  /** What the client sends, cut into segments of `segment` bytes (or of each size listed, in turn). */
  readonly stream: Uint8Array;
  readonly segment: number | readonly number[];
  /** Indices of client data segments sent twice (a retransmission right after the original). */
  readonly resend?: readonly number[];
}

/** Frames of a whole TCP connection: 3-way handshake, data with an ACK for each segment, FIN each way, last ACK. */
export function tcpFrames(c: TcpConversation): Uint8Array[] {
  const client = { sport: c.clientPort, dport: c.serverPort };
  const server = { sport: c.serverPort, dport: c.clientPort };
  const cIsn = 1000;
  const sIsn = 900_000;
  const frames: Uint8Array[] = [
    tcp4Frame(HOST, HOST, { ...client, seq: cIsn, flags: SYN }),
    tcp4Frame(HOST, HOST, { ...server, seq: sIsn, ack: cIsn + 1, flags: SYN | ACK }),
    tcp4Frame(HOST, HOST, { ...client, seq: cIsn + 1, ack: sIsn + 1, flags: ACK }),
  ];
  let index = 0;
  for (let at = 0; at < c.stream.length; index++) {
    const size = typeof c.segment === 'number' ? c.segment : (c.segment[index] ?? c.stream.length - at);
    const payload = c.stream.subarray(at, at + size);
    const data = tcp4Frame(HOST, HOST, { ...client, seq: cIsn + 1 + at, ack: sIsn + 1, flags: PSH | ACK, payload });
    frames.push(data);
    if (c.resend?.includes(index)) frames.push(data);
    frames.push(tcp4Frame(HOST, HOST, { ...server, seq: sIsn + 1, ack: cIsn + 1 + at + payload.length, flags: ACK }));
    at += payload.length;
  }
  const end = cIsn + 1 + c.stream.length;
  frames.push(
    tcp4Frame(HOST, HOST, { ...client, seq: end, ack: sIsn + 1, flags: FIN | ACK }),
    tcp4Frame(HOST, HOST, { ...server, seq: sIsn + 1, ack: end + 1, flags: FIN | ACK }),
    tcp4Frame(HOST, HOST, { ...client, seq: end + 1, ack: sIsn + 2, flags: ACK }),
  );
  return frames;
}

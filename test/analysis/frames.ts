// Builds Ethernet/IPv4/IPv6/TCP/UDP frames for the unit tests (checksums left at zero: the
// dissector does not verify them, nor does tshark by default).
import { concat } from './pcap-build.ts';

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number));
}

/** 16 bytes of an IPv6 address written in full or with one "::". */
function ipv6Bytes(address: string): Uint8Array {
  const [head = '', tail] = address.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return concat(...all.map(u16));
}

export function ethernet(etherType: number, inner: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb), u16(etherType), inner);
}

export function ipv4(protocol: number, src: string, dst: string, inner: Uint8Array, options = new Uint8Array(0)): Uint8Array {
  const headerLength = 20 + options.length;
  return concat(
    Uint8Array.of(0x40 | (headerLength / 4), 0),
    u16(headerLength + inner.length),
    u16(0x1234),
    u16(0x4000),
    Uint8Array.of(64, protocol),
    u16(0),
    ipv4Bytes(src),
    ipv4Bytes(dst),
    options,
    inner,
  );
}

export function ipv6(nextHeader: number, src: string, dst: string, inner: Uint8Array): Uint8Array {
  return concat(u32(0x60000000), u16(inner.length), Uint8Array.of(nextHeader, 64), ipv6Bytes(src), ipv6Bytes(dst), inner);
}

export interface TcpSpec {
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack?: number;
  /** TcpFlag bits. */
  readonly flags: number;
  readonly window?: number;
  readonly options?: Uint8Array;
  readonly payload?: Uint8Array;
}

export function tcp(spec: TcpSpec): Uint8Array {
  const options = spec.options ?? new Uint8Array(0);
  const headerLength = 20 + options.length;
  return concat(
    u16(spec.sport),
    u16(spec.dport),
    u32(spec.seq),
    u32(spec.ack ?? 0),
    u16(((headerLength / 4) << 12) | spec.flags),
    u16(spec.window ?? 65535),
    u16(0),
    u16(0),
    options,
    spec.payload ?? new Uint8Array(0),
  );
}

export function udp(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return concat(u16(sport), u16(dport), u16(8 + payload.length), u16(0), payload);
}

/** An Ethernet/IPv4/TCP frame between two addresses. */
export function tcp4Frame(src: string, dst: string, spec: TcpSpec): Uint8Array {
  return ethernet(0x0800, ipv4(6, src, dst, tcp(spec)));
}

/** An Ethernet/IPv4/UDP frame. */
export function udp4Frame(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  return ethernet(0x0800, ipv4(17, src, dst, udp(sport, dport, payload)));
}

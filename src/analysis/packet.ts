// Dissects one captured frame into link, IP and transport layers, and splits the bytes the
// frame had on the wire between them. Pure: reads only the frame's captured bytes, never
// throws, and reports problems as issues on the result.
//
// Byte accounting (all on-the-wire counts, so they hold for snap-length-truncated frames too):
//   link + ip + transport + payload + trailer = max(originalLength, capturedLength)
// - link: link header, VLAN tags included
// - ip: IPv4 header with options, or IPv6 header with its extension headers
// - transport: TCP header with options, or the 8-byte UDP header
// - payload: what the deepest decoded layer carries, bounded by the IP length fields (so
//   application bytes for TCP/UDP, the IP payload for other protocols or unreadable headers,
//   the link payload for non-IP frames, everything for an unsupported link type)
// - trailer: bytes after the IP datagram (Ethernet padding to 60 bytes, a captured FCS), plus
//   any bytes of the IP payload beyond a UDP datagram's own length field.
import type { CaptureRecord } from './capture.ts';
import { type DissectIssue, FrameView } from './frame.ts';
import { type IpHeader, IpProtocol, parseIpv4, parseIpv6 } from './ip.ts';
import { EtherType, type LinkHeader, parseLink } from './link.ts';
import { parseTcp, type TcpHeader } from './tcp.ts';
import { parseUdp, type UdpHeader } from './udp.ts';

export type { DissectIssue } from './frame.ts';
export { IssueCode, LayerName } from './frame.ts';
export type { IpHeader, Ipv4Header, Ipv6Header, ExtensionHeader, Fragment } from './ip.ts';
export { IpProtocol } from './ip.ts';
export type { LinkHeader, VlanTag } from './link.ts';
export { EtherType, LinkKind } from './link.ts';
export type { TcpHeader, TcpOption } from './tcp.ts';
export { TcpFlag, TcpOptionKind, flagNames, hasFlag } from './tcp.ts';
export type { UdpHeader } from './udp.ts';

export type TransportHeader = TcpHeader | UdpHeader;

/** Bytes of the frame on the wire, by layer. */
export interface LayerBytes {
  readonly link: number;
  readonly ip: number;
  readonly transport: number;
  readonly payload: number;
  readonly trailer: number;
}

export interface Packet {
  readonly linkType: number;
  readonly capturedLength: number;
  readonly originalLength: number;
  /** True when fewer bytes were captured than the frame had on the wire. */
  readonly truncated: boolean;
  readonly link: LinkHeader | null;
  readonly ip: IpHeader | null;
  readonly transport: TransportHeader | null;
  /** Offset of the payload (see LayerBytes.payload) in the frame. */
  readonly payloadOffset: number;
  /** Payload bytes on the wire (equal to bytes.payload). */
  readonly payloadLength: number;
  /** The captured part of the payload, a view into the frame (shorter than payloadLength if truncated). */
  readonly payload: Uint8Array;
  readonly bytes: LayerBytes;
  /** Problems found, in the order met; empty for a well-formed, fully captured frame. */
  readonly issues: readonly DissectIssue[];
}

interface Upper {
  transport: TransportHeader | null;
  transportBytes: number;
  payloadOffset: number;
  payloadLength: number;
  extraTrailer: number;
}

function dissectTransport(frame: FrameView, ip: IpHeader, readable: boolean, offset: number): Upper {
  const available = ip.totalLength - ip.headerLength;
  const none: Upper = {
    transport: null,
    transportBytes: 0,
    payloadOffset: offset,
    payloadLength: available,
    extraTrailer: 0,
  };
  if (!readable) return none;
  if (ip.protocol === IpProtocol.TCP) {
    const tcp = parseTcp(frame, offset, available);
    if (tcp === null) return none;
    return {
      transport: tcp,
      transportBytes: tcp.headerLength,
      payloadOffset: offset + tcp.headerLength,
      payloadLength: available - tcp.headerLength,
      extraTrailer: 0,
    };
  }
  if (ip.protocol === IpProtocol.UDP) {
    const udp = parseUdp(frame, offset, available, ip.fragment !== null);
    if (udp === null) return none;
    return {
      transport: udp,
      transportBytes: udp.headerLength,
      payloadOffset: offset + udp.headerLength,
      payloadLength: udp.payloadLength,
      extraTrailer: available - udp.headerLength - udp.payloadLength,
    };
  }
  return none;
}

/**
 * Dissects a frame of link type `linkType`. `originalLength` is the frame's length on the wire
 * (defaults to the captured length).
 */
export function dissect(data: Uint8Array, linkType: number, originalLength: number = data.length): Packet {
  const frame = new FrameView(data);
  const wire = Math.max(originalLength, data.length);
  const link = parseLink(frame, linkType);

  let ip: IpHeader | null = null;
  let upper: Upper = { transport: null, transportBytes: 0, payloadOffset: 0, payloadLength: wire, extraTrailer: 0 };
  let trailer = 0;
  if (link !== null) {
    const ipOffset = link.headerLength;
    const available = wire - ipOffset;
    upper = { ...upper, payloadOffset: ipOffset, payloadLength: available };
    const result =
      link.etherType === EtherType.IPV4
        ? parseIpv4(frame, ipOffset, available)
        : link.etherType === EtherType.IPV6
          ? parseIpv6(frame, ipOffset, available)
          : null;
    if (result !== null) {
      ip = result.header;
      trailer = available - ip.totalLength;
      upper = dissectTransport(frame, ip, result.upperLayerReadable, ipOffset + ip.headerLength);
    }
  }

  const payloadStart = Math.min(upper.payloadOffset, data.length);
  const payloadEnd = Math.min(upper.payloadOffset + upper.payloadLength, data.length);
  return {
    linkType,
    capturedLength: data.length,
    originalLength,
    truncated: data.length < originalLength,
    link,
    ip,
    transport: upper.transport,
    payloadOffset: upper.payloadOffset,
    payloadLength: upper.payloadLength,
    payload: data.subarray(payloadStart, payloadEnd),
    bytes: {
      link: link?.headerLength ?? 0,
      ip: ip?.headerLength ?? 0,
      transport: upper.transportBytes,
      payload: upper.payloadLength,
      trailer: trailer + upper.extraTrailer,
    },
    issues: frame.issues,
  };
}

/** Dissects a frame read by the capture reader. */
export function dissectRecord(record: CaptureRecord): Packet {
  return dissect(record.data, record.linkType, record.originalLength);
}

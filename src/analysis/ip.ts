// IPv4 and IPv6 headers. Both report how many bytes the datagram occupies on the wire (from
// its own length fields, not from the frame length, so Ethernet padding stays outside), the
// header bytes (IPv4 options and IPv6 extension headers included), and the upper-layer
// protocol with where its header starts.
import { formatIpv4, formatIpv6 } from './address.ts';
import { type FrameView, IssueCode, LayerName } from './frame.ts';

export const IpProtocol = {
  HOP_BY_HOP: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NO_NEXT_HEADER: 59,
  DESTINATION_OPTIONS: 60,
  MOBILITY: 135,
  HIP: 139,
  SHIM6: 140,
} as const;
export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];

/** IPv6 extension headers followed; a datagram with more is reported TOO_MANY_HEADERS. */
export const MAX_EXTENSION_HEADERS = 16;

export interface Fragment {
  /** Offset of this fragment's data in the original datagram, in bytes. */
  readonly offset: number;
  readonly moreFragments: boolean;
  readonly identification: number;
}

interface IpCommon {
  readonly source: string;
  readonly destination: string;
  /** Header bytes: IPv4 header with options, or IPv6 fixed header plus extension headers. */
  readonly headerLength: number;
  /** Bytes of the whole datagram on the wire, from its length field (clamped to the frame). */
  readonly totalLength: number;
  /** Upper-layer protocol (after IPv6 extension headers). */
  readonly protocol: number;
  /** Set when the datagram is a fragment (first or later). */
  readonly fragment: Fragment | null;
  /** Time to live / hop limit. */
  readonly ttl: number;
}

export interface Ipv4Header extends IpCommon {
  readonly version: 4;
  /** The total length field as written (0 is used by captures of TCP segmentation offload). */
  readonly totalLengthField: number;
  readonly optionsLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly dscp: number;
  readonly ecn: number;
  readonly checksum: number;
}

export interface ExtensionHeader {
  readonly type: number;
  /** Offset of the extension header in the frame. */
  readonly offset: number;
  readonly length: number;
}

export interface Ipv6Header extends IpCommon {
  readonly version: 6;
  readonly payloadLengthField: number;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly extensionHeaders: readonly ExtensionHeader[];
}

export type IpHeader = Ipv4Header | Ipv6Header;

export interface IpResult {
  readonly header: IpHeader;
  /**
   * True when the upper-layer header can be parsed: the header chain was followed to its end
   * and this is not a non-first fragment.
   */
  readonly upperLayerReadable: boolean;
}

/**
 * The datagram's length on the wire. A length field larger than what the frame holds is
 * reported BAD_LENGTH and clamped; 0 (IPv4 TSO captures) means "the rest of the frame".
 */
function wireLength(
  frame: FrameView,
  layer: LayerName,
  offset: number,
  declared: number,
  available: number,
  zeroMeansRest: boolean,
): number {
  if (declared === 0 && zeroMeansRest) return available;
  if (declared > available) {
    frame.issue(IssueCode.BAD_LENGTH, layer, offset, `length field says ${declared} bytes, the frame has ${available}`);
    return available;
  }
  return declared;
}

/**
 * Parses an IPv4 header at `offset`. `available` is how many bytes of the frame, on the wire,
 * follow `offset`.
 */
export function parseIpv4(frame: FrameView, offset: number, available: number): IpResult | null {
  if (!frame.require(offset, 20, LayerName.IPV4, 'IPv4 header')) return null;
  const first = frame.u8(offset);
  const version = first >> 4;
  if (version !== 4) {
    frame.issue(IssueCode.BAD_VERSION, LayerName.IPV4, offset, `IP version ${version} where IPv4 was announced`);
    return null;
  }
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < 20) {
    frame.issue(IssueCode.BAD_HEADER_LENGTH, LayerName.IPV4, offset, `header length ${headerLength} is below 20`);
    return null;
  }
  const totalLengthField = frame.u16(offset + 2);
  const totalLength = wireLength(frame, LayerName.IPV4, offset + 2, totalLengthField, available, true);
  if (totalLength < headerLength) {
    frame.issue(
      IssueCode.BAD_LENGTH,
      LayerName.IPV4,
      offset + 2,
      `total length ${totalLength} is smaller than the ${headerLength}-byte header`,
    );
    return null;
  }
  const flagsAndOffset = frame.u16(offset + 6);
  const identification = frame.u16(offset + 4);
  const moreFragments = (flagsAndOffset & 0x2000) !== 0;
  const fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  const fragment = moreFragments || fragmentOffset > 0 ? { offset: fragmentOffset, moreFragments, identification } : null;
  const header: Ipv4Header = {
    version: 4,
    source: formatIpv4(frame.data, offset + 12),
    destination: formatIpv4(frame.data, offset + 16),
    headerLength,
    totalLength,
    totalLengthField,
    protocol: frame.u8(offset + 9),
    fragment,
    ttl: frame.u8(offset + 8),
    optionsLength: headerLength - 20,
    identification,
    dontFragment: (flagsAndOffset & 0x4000) !== 0,
    dscp: frame.u8(offset + 1) >> 2,
    ecn: frame.u8(offset + 1) & 0x03,
    checksum: frame.u16(offset + 10),
  };
  // Options must be captured before anything after them can be read.
  const optionsCaptured = frame.require(offset, headerLength, LayerName.IPV4, 'IPv4 options');
  return { header, upperLayerReadable: optionsCaptured && fragmentOffset === 0 };
}

/** Length of the extension header of `type` (one isExtension accepts) at `at`. */
function extensionLength(frame: FrameView, type: number, at: number): number {
  if (type === IpProtocol.FRAGMENT) return 8;
  if (type === IpProtocol.AH) return (frame.u8(at + 1) + 2) * 4;
  return (frame.u8(at + 1) + 1) * 8;
}

/** Parses an IPv6 header and its extension headers at `offset`. */
export function parseIpv6(frame: FrameView, offset: number, available: number): IpResult | null {
  if (!frame.require(offset, 40, LayerName.IPV6, 'IPv6 header')) return null;
  const word = frame.u32(offset);
  const version = word >>> 28;
  if (version !== 6) {
    frame.issue(IssueCode.BAD_VERSION, LayerName.IPV6, offset, `IP version ${version} where IPv6 was announced`);
    return null;
  }
  const payloadLengthField = frame.u16(offset + 4);
  const totalLength = wireLength(frame, LayerName.IPV6, offset + 4, 40 + payloadLengthField, available, false);
  const end = offset + totalLength;

  const extensionHeaders: ExtensionHeader[] = [];
  let protocol = frame.u8(offset + 6);
  let at = offset + 40;
  let fragment: Fragment | null = null;
  let readable = true;
  while (isExtension(protocol)) {
    if (extensionHeaders.length === MAX_EXTENSION_HEADERS) {
      frame.issue(IssueCode.TOO_MANY_HEADERS, LayerName.IPV6, at, `more than ${MAX_EXTENSION_HEADERS} extension headers`);
      readable = false;
      break;
    }
    if (!frame.require(at, 2, LayerName.IPV6, 'extension header')) {
      readable = false;
      break;
    }
    const length = extensionLength(frame, protocol, at);
    if (at + length > end) {
      frame.issue(IssueCode.BAD_HEADER_LENGTH, LayerName.IPV6, at, `extension header ${protocol} runs past the payload`);
      readable = false;
      break;
    }
    if (!frame.require(at, length, LayerName.IPV6, 'extension header')) {
      readable = false;
      break;
    }
    extensionHeaders.push({ type: protocol, offset: at, length });
    if (protocol === IpProtocol.FRAGMENT) {
      const offsetAndFlags = frame.u16(at + 2);
      fragment = {
        offset: offsetAndFlags & 0xfff8,
        moreFragments: (offsetAndFlags & 0x1) !== 0,
        identification: frame.u32(at + 4),
      };
    }
    protocol = frame.u8(at);
    at += length;
    if (fragment !== null && fragment.offset > 0) {
      // A later fragment: what follows is the middle of the original payload.
      readable = false;
      break;
    }
  }

  const header: Ipv6Header = {
    version: 6,
    source: formatIpv6(frame.data, offset + 8),
    destination: formatIpv6(frame.data, offset + 24),
    headerLength: at - offset,
    totalLength,
    protocol,
    fragment,
    ttl: frame.u8(offset + 7),
    payloadLengthField,
    trafficClass: (word >>> 20) & 0xff,
    flowLabel: word & 0xfffff,
    extensionHeaders,
  };
  return { header, upperLayerReadable: readable };
}

function isExtension(protocol: number): boolean {
  return (
    protocol === IpProtocol.HOP_BY_HOP ||
    protocol === IpProtocol.ROUTING ||
    protocol === IpProtocol.FRAGMENT ||
    protocol === IpProtocol.DESTINATION_OPTIONS ||
    protocol === IpProtocol.AH ||
    protocol === IpProtocol.MOBILITY ||
    protocol === IpProtocol.HIP ||
    protocol === IpProtocol.SHIM6
  );
}

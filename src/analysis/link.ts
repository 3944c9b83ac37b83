// Link-layer headers: Ethernet (with 802.1Q/802.1ad VLAN tags), Linux cooked capture v1 and
// v2, BSD loopback, and raw IP. Each yields the header length and the network protocol it
// carries (as an EtherType, so the IP layer needs only one switch).
import { formatMac } from './address.ts';
import { type FrameView, IssueCode, LayerName } from './frame.ts';
import { LinkType } from './link-types.ts';

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
  /** Pre-standard double tagging. */
  QINQ_OLD: 0x9100,
} as const;
export type EtherType = (typeof EtherType)[keyof typeof EtherType];

export const LinkKind = {
  ETHERNET: 'ethernet',
  SLL: 'sll',
  SLL2: 'sll2',
  NULL: 'null',
  LOOP: 'loop',
  RAW: 'raw',
} as const;
export type LinkKind = (typeof LinkKind)[keyof typeof LinkKind];

/** VLAN tags followed; a frame with more is reported TOO_MANY_HEADERS. */
export const MAX_VLAN_TAGS = 4;

export interface VlanTag {
  readonly tpid: number;
  readonly priority: number;
  readonly dropEligible: boolean;
  readonly id: number;
}

export interface LinkHeader {
  readonly kind: LinkKind;
  readonly linkType: number;
  /** Bytes of link header, VLAN tags included. */
  readonly headerLength: number;
  /**
   * What the link layer carries, as an EtherType (raw IP and loopback families are mapped to
   * 0x0800 / 0x86dd), or null when it is not known. Values below 0x0600 on Ethernet are
   * 802.3 length fields.
   */
  readonly etherType: number | null;
  readonly vlanTags: readonly VlanTag[];
  /** Ethernet destination MAC. */
  readonly destination: string | undefined;
  /** Ethernet source MAC, or the link-layer source address of a cooked capture. */
  readonly source: string | undefined;
  /** Cooked captures: 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us. */
  readonly packetType: number | undefined;
  /** Cooked captures: ARPHRD_ type of the interface. */
  readonly hardwareType: number | undefined;
  /** SLL2: interface index. */
  readonly interfaceIndex: number | undefined;
}

const ETHERNET_HEADER = 14;
const SLL_HEADER = 16;
const SLL2_HEADER = 20;
const LOOPBACK_HEADER = 4;
const VLAN_TAG = 4;
const ARPHRD_NETLINK = 824;

/** Address families BSD-style loopback headers use for IPv6 on various systems. */
const AF_INET = 2;
const AF_INET6_VALUES: readonly number[] = [10, 23, 24, 28, 30];

const VLAN_TPIDS: readonly number[] = [EtherType.VLAN, EtherType.QINQ, EtherType.QINQ_OLD];

function blank(kind: LinkKind, linkType: number): LinkHeader {
  return {
    kind,
    linkType,
    headerLength: 0,
    etherType: null,
    vlanTags: [],
    destination: undefined,
    source: undefined,
    packetType: undefined,
    hardwareType: undefined,
    interfaceIndex: undefined,
  };
}

/**
 * Follows VLAN tags. `etherType` is the protocol field already read from the header; while it
 * is a VLAN TPID, a tag (2-byte TCI, 2-byte inner protocol) follows at `at`.
 */
function followVlanTags(
  frame: FrameView,
  etherType: number,
  at: number,
): { etherType: number; end: number; tags: VlanTag[] } | null {
  const tags: VlanTag[] = [];
  let type = etherType;
  let end = at;
  while (VLAN_TPIDS.includes(type)) {
    if (tags.length === MAX_VLAN_TAGS) {
      frame.issue(IssueCode.TOO_MANY_HEADERS, LayerName.LINK, end, `more than ${MAX_VLAN_TAGS} VLAN tags`);
      return null;
    }
    if (!frame.require(end, VLAN_TAG, LayerName.LINK, 'VLAN tag')) return null;
    const tci = frame.u16(end);
    tags.push({ tpid: type, priority: tci >> 13, dropEligible: (tci & 0x1000) !== 0, id: tci & 0x0fff });
    type = frame.u16(end + 2);
    end += VLAN_TAG;
  }
  return { etherType: type, end, tags };
}

function ethernet(frame: FrameView, linkType: number): LinkHeader | null {
  if (!frame.require(0, ETHERNET_HEADER, LayerName.LINK, 'Ethernet header')) return null;
  const vlan = followVlanTags(frame, frame.u16(12), ETHERNET_HEADER);
  if (vlan === null) return null;
  return {
    ...blank(LinkKind.ETHERNET, linkType),
    headerLength: vlan.end,
    etherType: vlan.etherType,
    vlanTags: vlan.tags,
    destination: formatMac(frame.data, 0),
    source: formatMac(frame.data, 6),
  };
}

function cookedAddress(frame: FrameView, offset: number, length: number): string | undefined {
  return length === 0 ? undefined : formatMac(frame.data, offset, Math.min(length, 8));
}

function sll(frame: FrameView, linkType: number): LinkHeader | null {
  if (!frame.require(0, SLL_HEADER, LayerName.LINK, 'Linux cooked header')) return null;
  const hardwareType = frame.u16(2);
  const base = {
    ...blank(LinkKind.SLL, linkType),
    packetType: frame.u16(0),
    hardwareType,
    source: cookedAddress(frame, 6, frame.u16(4)),
  };
  if (hardwareType === ARPHRD_NETLINK) return { ...base, headerLength: SLL_HEADER, etherType: null };
  const vlan = followVlanTags(frame, frame.u16(14), SLL_HEADER);
  if (vlan === null) return null;
  return { ...base, headerLength: vlan.end, etherType: vlan.etherType, vlanTags: vlan.tags };
}

function sll2(frame: FrameView, linkType: number): LinkHeader | null {
  if (!frame.require(0, SLL2_HEADER, LayerName.LINK, 'Linux cooked v2 header')) return null;
  const hardwareType = frame.u16(8);
  const base = {
    ...blank(LinkKind.SLL2, linkType),
    packetType: frame.u8(10),
    hardwareType,
    interfaceIndex: frame.u32(4),
    source: cookedAddress(frame, 12, frame.u8(11)),
  };
  if (hardwareType === ARPHRD_NETLINK) return { ...base, headerLength: SLL2_HEADER, etherType: null };
  // The protocol field opens the header; VLAN tags, if any, follow the whole header.
  const vlan = followVlanTags(frame, frame.u16(0), SLL2_HEADER);
  if (vlan === null) return null;
  return { ...base, headerLength: vlan.end, etherType: vlan.etherType, vlanTags: vlan.tags };
}

function familyToEtherType(family: number): number | null {
  if (family === AF_INET) return EtherType.IPV4;
  if (AF_INET6_VALUES.includes(family)) return EtherType.IPV6;
  return null;
}

function loopback(frame: FrameView, linkType: number, kind: LinkKind): LinkHeader | null {
  if (!frame.require(0, LOOPBACK_HEADER, LayerName.LINK, 'loopback header')) return null;
  let family = frame.u32(0);
  // DLT_NULL stores the family in the capturing host's byte order. Families are small
  // numbers, so a value with bits in the upper half was written little-endian.
  if (kind === LinkKind.NULL && (family & 0xffff0000) !== 0) {
    family = frame.view.getUint32(0, true);
  }
  return { ...blank(kind, linkType), headerLength: LOOPBACK_HEADER, etherType: familyToEtherType(family) };
}

function rawIp(frame: FrameView, linkType: number): LinkHeader | null {
  if (linkType === LinkType.IPV4) return { ...blank(LinkKind.RAW, linkType), etherType: EtherType.IPV4 };
  if (linkType === LinkType.IPV6) return { ...blank(LinkKind.RAW, linkType), etherType: EtherType.IPV6 };
  if (!frame.require(0, 1, LayerName.LINK, 'IP version')) return null;
  const version = frame.u8(0) >> 4;
  const etherType = version === 4 ? EtherType.IPV4 : version === 6 ? EtherType.IPV6 : null;
  if (etherType === null) {
    frame.issue(IssueCode.BAD_VERSION, LayerName.LINK, 0, `raw IP frame with IP version ${version}`);
  }
  return { ...blank(LinkKind.RAW, linkType), etherType };
}

/**
 * Parses the link header of a frame of the given LINKTYPE_. Returns null (with an issue on the
 * frame) when the link type is unsupported or the header is not fully captured.
 */
export function parseLink(frame: FrameView, linkType: number): LinkHeader | null {
  switch (linkType) {
    case LinkType.ETHERNET:
      return ethernet(frame, linkType);
    case LinkType.LINUX_SLL:
      return sll(frame, linkType);
    case LinkType.LINUX_SLL2:
      return sll2(frame, linkType);
    case LinkType.NULL:
      return loopback(frame, linkType, LinkKind.NULL);
    case LinkType.LOOP:
      return loopback(frame, linkType, LinkKind.LOOP);
    case LinkType.RAW:
    case LinkType.RAW_BSD_12:
    case LinkType.RAW_BSD_14:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return rawIp(frame, linkType);
    default:
      frame.issue(IssueCode.UNSUPPORTED_LINK_TYPE, LayerName.LINK, 0, `link type ${linkType} is not decoded`);
      return null;
  }
}

// LINKTYPE_ values (the numbers written in pcap headers and pcapng IDBs) that the dissector
// understands. The full registry is maintained by tcpdump.org; only what we decode is here.
export const LinkType = {
  /** BSD loopback: 4-byte address family in the byte order of the capturing host. */
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as some BSDs wrote it into files before LINKTYPE_RAW existed. */
  RAW_BSD_12: 12,
  /** DLT_RAW as OpenBSD wrote it. */
  RAW_BSD_14: 14,
  RAW: 101,
  /** OpenBSD loopback: like NULL but the family is always big-endian. */
  LOOP: 108,
  /** Linux cooked capture, version 1. */
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  /** Linux cooked capture, version 2. */
  LINUX_SLL2: 276,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** Header field in classic pcap and pcapng carrying the link type uses only these bits for it. */
export const LINK_TYPE_MASK = 0x03ff_ffff;

// The shapes the capture reader produces, shared by the pcap and pcapng readers.

/** Container formats the reader understands. */
export const CaptureFormat = {
  PCAP: 'pcap',
  PCAPNG: 'pcapng',
} as const;
export type CaptureFormat = (typeof CaptureFormat)[keyof typeof CaptureFormat];

export const ByteOrder = {
  LITTLE: 'little',
  BIG: 'big',
} as const;
export type ByteOrder = (typeof ByteOrder)[keyof typeof ByteOrder];

/** One capture interface: the single implicit one of a classic pcap, or a pcapng IDB. */
export interface CaptureInterface {
  /** Position in the file-wide list of interfaces (what CaptureRecord.interfaceId refers to). */
  readonly id: number;
  /** 0-based index of the pcapng section that described it (always 0 for classic pcap). */
  readonly section: number;
  /** The interface number packet blocks use inside its section. */
  readonly sectionInterfaceId: number;
  /** LINKTYPE_ value (see link-types.ts). */
  readonly linkType: number;
  /** Maximum bytes captured per packet; 0 means no limit was recorded. */
  readonly snapLength: number;
  /** if_name option, when present. */
  readonly name: string | undefined;
  /**
   * Timestamp unit: one tick is base^-exponent seconds (base 10 or 2). Classic pcap uses
   * 10^-6 or 10^-9; pcapng defaults to 10^-6 unless if_tsresol says otherwise.
   */
  readonly tsResolution: { readonly base: 10 | 2; readonly exponent: number };
  /** if_tsoffset option: seconds added to every timestamp of this interface. */
  readonly tsOffsetSeconds: bigint;
  /** Byte order of the section that described it. */
  readonly byteOrder: ByteOrder;
}

/** One captured frame. `data` is a view into the file's bytes, never a copy. */
export interface CaptureRecord {
  /** 0-based frame number in the file (tshark's frame.number minus one). */
  readonly index: number;
  /**
   * Nanoseconds since the Unix epoch, or null for a pcapng Simple Packet Block, which carries
   * no timestamp. Sub-nanosecond resolutions are truncated towards zero.
   */
  readonly timestampNs: bigint | null;
  /** LINKTYPE_ value of the interface the frame was captured on. */
  readonly linkType: number;
  /** Bytes present in the file (tshark's frame.cap_len). */
  readonly capturedLength: number;
  /** Bytes the frame had on the wire (tshark's frame.len). */
  readonly originalLength: number;
  readonly data: Uint8Array;
  /** Index into the file-wide interface list (always 0 for classic pcap). */
  readonly interfaceId: number;
  /** Byte offset of the record header or block in the file. */
  readonly fileOffset: number;
}

/** A whole capture read into memory. */
export interface CaptureFile {
  readonly format: CaptureFormat;
  /** Byte order of the file header (of the first section, for pcapng). */
  readonly byteOrder: ByteOrder;
  readonly interfaces: readonly CaptureInterface[];
  readonly records: readonly CaptureRecord[];
}

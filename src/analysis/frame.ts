// What the layer parsers share: a bounded view of one captured frame, and the problems they
// report. Dissection never throws; a parser that cannot go on records an issue and stops.

/** Stable codes for problems found inside a frame. */
export const IssueCode = {
  /** The captured bytes end inside a header (snap length shorter than the frame). */
  TRUNCATED: 'TRUNCATED',
  /** A link type this dissector does not decode. */
  UNSUPPORTED_LINK_TYPE: 'UNSUPPORTED_LINK_TYPE',
  /** An IP version nibble that is not the one the link layer announced. */
  BAD_VERSION: 'BAD_VERSION',
  /** A header length field below the minimum, or reaching past its datagram or segment. */
  BAD_HEADER_LENGTH: 'BAD_HEADER_LENGTH',
  /** A length field that disagrees with the frame (too large for it, or smaller than its header). */
  BAD_LENGTH: 'BAD_LENGTH',
  /** A TCP option whose length byte is invalid. */
  BAD_OPTION: 'BAD_OPTION',
  /** More VLAN tags or IPv6 extension headers than the dissector follows. */
  TOO_MANY_HEADERS: 'TOO_MANY_HEADERS',
} as const;
export type IssueCode = (typeof IssueCode)[keyof typeof IssueCode];

export const LayerName = {
  LINK: 'link',
  IPV4: 'ipv4',
  IPV6: 'ipv6',
  TCP: 'tcp',
  UDP: 'udp',
} as const;
export type LayerName = (typeof LayerName)[keyof typeof LayerName];

export interface DissectIssue {
  readonly code: IssueCode;
  readonly layer: LayerName;
  /** Byte offset in the frame where the problem was found. */
  readonly offset: number;
  readonly message: string;
}

/** A captured frame: reads are allowed below `captured` only. */
export class FrameView {
  readonly data: Uint8Array;
  readonly view: DataView;
  readonly captured: number;
  readonly issues: DissectIssue[] = [];

  constructor(data: Uint8Array) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.captured = data.length;
  }

  /** True when `n` bytes are captured at `offset`. */
  has(offset: number, n: number): boolean {
    return offset >= 0 && n >= 0 && offset + n <= this.captured;
  }

  u8(offset: number): number {
    return this.view.getUint8(offset);
  }

  u16(offset: number): number {
    return this.view.getUint16(offset);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset);
  }

  issue(code: IssueCode, layer: LayerName, offset: number, message: string): void {
    this.issues.push({ code, layer, offset, message });
  }

  /** Records TRUNCATED and returns false unless `n` bytes are captured at `offset`. */
  require(offset: number, n: number, layer: LayerName, what: string): boolean {
    if (this.has(offset, n)) return true;
    this.issue(IssueCode.TRUNCATED, layer, offset, `${what} needs ${n} bytes, ${Math.max(0, this.captured - offset)} captured`);
    return false;
  }
}

// TCP headers: ports, sequence numbers, flags, window, and the options (MSS, window scale,
// SACK, timestamps) as far as they were captured.
import { type FrameView, IssueCode, LayerName } from './frame.ts';

export const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  /** Accurate ECN (formerly NS). */
  AE: 0x100,
} as const;
export type TcpFlag = (typeof TcpFlag)[keyof typeof TcpFlag];

export const TcpOptionKind = {
  END: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;
export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind];

export interface TcpOption {
  readonly kind: number;
  /** Offset of the option in the frame. */
  readonly offset: number;
  /** Bytes the option occupies, kind byte included. */
  readonly length: number;
}

export interface TcpHeader {
  readonly protocol: 'tcp';
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** Sequence number as written (unsigned 32-bit). */
  readonly seq: number;
  /** Acknowledgement number as written (meaningful when ACK is set). */
  readonly ack: number;
  /** Header bytes, options included (data offset × 4). */
  readonly headerLength: number;
  /** TcpFlag bits. */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgentPointer: number;
  readonly options: readonly TcpOption[];
  /** True when the snap length cut the options short. */
  readonly optionsTruncated: boolean;
  readonly mss: number | undefined;
  readonly windowScale: number | undefined;
  readonly sackPermitted: boolean;
  /** SACK blocks as [left edge, right edge) sequence numbers. */
  readonly sackBlocks: readonly (readonly [number, number])[];
  readonly timestamp: { readonly value: number; readonly echo: number } | undefined;
}

/** True when every bit of `flag` is set on the segment. */
export function hasFlag(tcp: TcpHeader, flag: number): boolean {
  return (tcp.flags & flag) === flag;
}

/** Flag names in tshark's order, e.g. ["SYN", "ACK"]. */
export function flagNames(flags: number): string[] {
  const order: [string, number][] = [
    ['AE', TcpFlag.AE],
    ['CWR', TcpFlag.CWR],
    ['ECE', TcpFlag.ECE],
    ['URG', TcpFlag.URG],
    ['ACK', TcpFlag.ACK],
    ['PSH', TcpFlag.PSH],
    ['RST', TcpFlag.RST],
    ['SYN', TcpFlag.SYN],
    ['FIN', TcpFlag.FIN],
  ];
  return order.filter(([, bit]) => (flags & bit) !== 0).map(([name]) => name);
}

interface ParsedOptions {
  options: TcpOption[];
  mss: number | undefined;
  windowScale: number | undefined;
  sackPermitted: boolean;
  sackBlocks: [number, number][];
  timestamp: { value: number; echo: number } | undefined;
}

/** Walks the options between `start` and `end` (both within the captured bytes). */
function parseOptions(frame: FrameView, start: number, end: number): ParsedOptions {
  const out: ParsedOptions = {
    options: [],
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    sackBlocks: [],
    timestamp: undefined,
  };
  let at = start;
  while (at < end) {
    const kind = frame.u8(at);
    if (kind === TcpOptionKind.END) {
      out.options.push({ kind, offset: at, length: 1 });
      break;
    }
    if (kind === TcpOptionKind.NOP) {
      out.options.push({ kind, offset: at, length: 1 });
      at++;
      continue;
    }
    if (at + 2 > end) {
      frame.issue(IssueCode.BAD_OPTION, LayerName.TCP, at, `option ${kind} has no length byte`);
      break;
    }
    const length = frame.u8(at + 1);
    if (length < 2 || at + length > end) {
      frame.issue(IssueCode.BAD_OPTION, LayerName.TCP, at, `option ${kind} has length ${length}`);
      break;
    }
    out.options.push({ kind, offset: at, length });
    if (kind === TcpOptionKind.MSS && length === 4) out.mss = frame.u16(at + 2);
    else if (kind === TcpOptionKind.WINDOW_SCALE && length === 3) out.windowScale = frame.u8(at + 2);
    else if (kind === TcpOptionKind.SACK_PERMITTED && length === 2) out.sackPermitted = true;
    else if (kind === TcpOptionKind.TIMESTAMPS && length === 10) {
      out.timestamp = { value: frame.u32(at + 2), echo: frame.u32(at + 6) };
    } else if (kind === TcpOptionKind.SACK && (length - 2) % 8 === 0) {
      for (let b = at + 2; b < at + length; b += 8) out.sackBlocks.push([frame.u32(b), frame.u32(b + 4)]);
    }
    at += length;
  }
  return out;
}

/**
 * Parses a TCP header at `offset`; `available` is the segment's length on the wire (from the
 * IP header). Returns null, with an issue, when the fixed header is not captured or its data
 * offset is impossible.
 */
export function parseTcp(frame: FrameView, offset: number, available: number): TcpHeader | null {
  if (available < 20) {
    frame.issue(IssueCode.BAD_LENGTH, LayerName.TCP, offset, `segment of ${available} bytes is shorter than a TCP header`);
    return null;
  }
  if (!frame.require(offset, 20, LayerName.TCP, 'TCP header')) return null;
  const dataOffsetAndFlags = frame.u16(offset + 12);
  const headerLength = (dataOffsetAndFlags >> 12) * 4;
  if (headerLength < 20 || headerLength > available) {
    frame.issue(
      IssueCode.BAD_HEADER_LENGTH,
      LayerName.TCP,
      offset + 12,
      `header length ${headerLength} is outside 20..${Math.min(60, available)}`,
    );
    return null;
  }
  const optionsEnd = Math.min(offset + headerLength, frame.captured);
  const optionsTruncated = optionsEnd < offset + headerLength;
  if (optionsTruncated) {
    frame.issue(IssueCode.TRUNCATED, LayerName.TCP, optionsEnd, 'TCP options cut short by the snap length');
  }
  const parsed = parseOptions(frame, offset + 20, optionsEnd);
  return {
    protocol: 'tcp',
    sourcePort: frame.u16(offset),
    destinationPort: frame.u16(offset + 2),
    seq: frame.u32(offset + 4),
    ack: frame.u32(offset + 8),
    headerLength,
    flags: dataOffsetAndFlags & 0x1ff,
    window: frame.u16(offset + 14),
    checksum: frame.u16(offset + 16),
    urgentPointer: frame.u16(offset + 18),
    options: parsed.options,
    optionsTruncated,
    mss: parsed.mss,
    windowScale: parsed.windowScale,
    sackPermitted: parsed.sackPermitted,
    sackBlocks: parsed.sackBlocks,
    timestamp: parsed.timestamp,
  };
}

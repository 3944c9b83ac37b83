// Classic libpcap files: a 24-byte file header, then records of a 16-byte header and the
// captured bytes. The magic number gives both the byte order and the timestamp unit.
import type { ByteOrder, CaptureInterface, CaptureRecord } from './capture.ts';
import type { FileBytes } from './bytes.ts';
import { CaptureErrorCode, CaptureFormatError } from './errors.ts';
import { LINK_TYPE_MASK } from './link-types.ts';
import { ticksToNs } from './time.ts';

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const MAGIC_NANOSECONDS = 0xa1b23c4d;
const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

export interface ClassicHeader {
  readonly byteOrder: ByteOrder;
  readonly nanoseconds: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snapLength: number;
  readonly linkType: number;
}

/** True when the first four bytes are a classic pcap magic number in either byte order. */
export function isClassicMagic(file: FileBytes): boolean {
  if (file.length < 4) return false;
  const big = file.u32(0, 'big', 'magic');
  const little = file.u32(0, 'little', 'magic');
  return [big, little].some((m) => m === MAGIC_MICROSECONDS || m === MAGIC_NANOSECONDS);
}

export function readClassicHeader(file: FileBytes): ClassicHeader {
  const big = file.u32(0, 'big', 'pcap magic number');
  let byteOrder: ByteOrder;
  let nanoseconds: boolean;
  if (big === MAGIC_MICROSECONDS || big === MAGIC_NANOSECONDS) {
    byteOrder = 'big';
    nanoseconds = big === MAGIC_NANOSECONDS;
  } else {
    const little = file.u32(0, 'little', 'pcap magic number');
    if (little !== MAGIC_MICROSECONDS && little !== MAGIC_NANOSECONDS) {
      throw new CaptureFormatError(CaptureErrorCode.BAD_MAGIC, 0, `unknown magic number 0x${big.toString(16)}`);
    }
    byteOrder = 'little';
    nanoseconds = little === MAGIC_NANOSECONDS;
  }
  file.need(0, FILE_HEADER_BYTES, 'pcap file header');
  const versionMajor = file.u16(4, byteOrder, 'version');
  const versionMinor = file.u16(6, byteOrder, 'version');
  if (versionMajor !== 2) {
    throw new CaptureFormatError(
      CaptureErrorCode.UNSUPPORTED_VERSION,
      4,
      `pcap version ${versionMajor}.${versionMinor}, expected 2.x`,
    );
  }
  const snapLength = file.u32(16, byteOrder, 'snaplen');
  const linkType = file.u32(20, byteOrder, 'link type') & LINK_TYPE_MASK;
  return { byteOrder, nanoseconds, versionMajor, versionMinor, snapLength, linkType };
}

export function classicInterface(header: ClassicHeader): CaptureInterface {
  return {
    id: 0,
    section: 0,
    sectionInterfaceId: 0,
    linkType: header.linkType,
    snapLength: header.snapLength,
    name: undefined,
    tsResolution: { base: 10, exponent: header.nanoseconds ? 9 : 6 },
    tsOffsetSeconds: 0n,
    byteOrder: header.byteOrder,
  };
}

/** Yields the records that follow the file header, in file order. */
export function* classicRecords(file: FileBytes, header: ClassicHeader): Generator<CaptureRecord, void, undefined> {
  const order = header.byteOrder;
  const resolution = { base: 10, exponent: header.nanoseconds ? 9 : 6 } as const;
  let offset = FILE_HEADER_BYTES;
  let index = 0;
  while (offset < file.length) {
    file.need(offset, RECORD_HEADER_BYTES, `header of record ${index}`);
    const seconds = file.u32(offset, order, 'timestamp');
    const fraction = file.u32(offset + 4, order, 'timestamp');
    const capturedLength = file.u32(offset + 8, order, 'captured length');
    const originalLength = file.u32(offset + 12, order, 'original length');
    const dataOffset = offset + RECORD_HEADER_BYTES;
    if (capturedLength > file.length - dataOffset) {
      throw new CaptureFormatError(
        CaptureErrorCode.TRUNCATED,
        offset,
        `record ${index} claims ${capturedLength} captured bytes, ${file.length - dataOffset} left in the file`,
      );
    }
    const ticks = BigInt(seconds) * 10n ** BigInt(resolution.exponent) + BigInt(fraction);
    yield {
      index,
      timestampNs: ticksToNs(ticks, resolution),
      linkType: header.linkType,
      capturedLength,
      originalLength,
      data: file.slice(dataOffset, capturedLength, `data of record ${index}`),
      interfaceId: 0,
      fileOffset: offset,
    };
    offset = dataOffset + capturedLength;
    index++;
  }
}

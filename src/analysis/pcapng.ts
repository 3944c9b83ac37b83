// pcapng files: a sequence of blocks (type, total length, body, total length again). Each
// section starts with a Section Header Block whose byte-order magic sets the byte order of the
// blocks that follow; Interface Description Blocks describe link type, snap length and
// timestamp unit; Enhanced, Simple and (obsolete) Packet Blocks carry frames. Blocks of any
// other type are skipped.
import type { ByteOrder, CaptureInterface, CaptureRecord } from './capture.ts';
import type { FileBytes } from './bytes.ts';
import { CaptureErrorCode, CaptureFormatError } from './errors.ts';
import { ticksToNs } from './time.ts';

export const BlockType = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  /** Obsolete Packet Block (pcapng drafts before the EPB). */
  PACKET: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  NAME_RESOLUTION: 0x00000004,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
} as const;
export type BlockType = (typeof BlockType)[keyof typeof BlockType];

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Block type, total length, and the trailing copy of the total length. */
const BLOCK_OVERHEAD = 12;
const OPTION = { END: 0, IF_NAME: 2, IF_TSRESOL: 9, IF_TSOFFSET: 14 } as const;
const utf8 = new TextDecoder('utf-8');

/** True when the file starts with a Section Header Block. */
export function isPcapngMagic(file: FileBytes): boolean {
  return file.length >= 4 && file.u32(0, 'big', 'block type') === BlockType.SECTION_HEADER;
}

/** Byte order of the Section Header Block at `offset` (from its byte-order magic). */
function sectionByteOrder(file: FileBytes, offset: number, first: boolean): ByteOrder {
  const magicOffset = offset + 8;
  if (file.u32(magicOffset, 'big', 'byte-order magic') === BYTE_ORDER_MAGIC) return 'big';
  if (file.u32(magicOffset, 'little', 'byte-order magic') === BYTE_ORDER_MAGIC) return 'little';
  throw new CaptureFormatError(
    first ? CaptureErrorCode.BAD_MAGIC : CaptureErrorCode.BAD_BLOCK,
    magicOffset,
    'section header without a valid byte-order magic',
  );
}

/** Byte order of the first section; throws unless the file starts with a valid SHB. */
export function pcapngByteOrder(file: FileBytes): ByteOrder {
  if (!isPcapngMagic(file)) {
    throw new CaptureFormatError(CaptureErrorCode.BAD_MAGIC, 0, 'file does not start with a section header block');
  }
  return sectionByteOrder(file, 0, true);
}

interface Option {
  readonly code: number;
  readonly valueOffset: number;
  readonly length: number;
}

/** The options between `start` and `end`, up to opt_endofopt or the end of the area. */
function* options(file: FileBytes, start: number, end: number, order: ByteOrder): Generator<Option, void, undefined> {
  let at = start;
  while (end - at >= 4) {
    const code = file.u16(at, order, 'option code');
    const length = file.u16(at + 2, order, 'option length');
    if (code === OPTION.END) return;
    if (length > end - at - 4) {
      throw new CaptureFormatError(
        CaptureErrorCode.BAD_OPTION,
        at,
        `option ${code} claims ${length} bytes, ${end - at - 4} left in its block`,
      );
    }
    yield { code, valueOffset: at + 4, length };
    at += 4 + ((length + 3) & ~3);
  }
}

interface Block {
  readonly type: number;
  readonly offset: number;
  readonly bodyStart: number;
  readonly bodyEnd: number;
}

function badBlock(offset: number, message: string): CaptureFormatError {
  return new CaptureFormatError(CaptureErrorCode.BAD_BLOCK, offset, message);
}

/** Reads and validates the framing of the block at `offset`. */
function readBlock(file: FileBytes, offset: number, order: ByteOrder): Block {
  file.need(offset, 8, 'block header');
  const type = file.u32(offset, order, 'block type');
  const total = file.u32(offset + 4, order, 'block total length');
  if (total < BLOCK_OVERHEAD || total % 4 !== 0) {
    throw badBlock(offset + 4, `block total length ${total} is below ${BLOCK_OVERHEAD} or not a multiple of 4`);
  }
  if (total > file.length - offset) {
    throw new CaptureFormatError(
      CaptureErrorCode.TRUNCATED,
      offset,
      `block of ${total} bytes, ${file.length - offset} left in the file`,
    );
  }
  const trailer = file.u32(offset + total - 4, order, 'block trailing length');
  if (trailer !== total) {
    throw badBlock(offset + total - 4, `block total length ${total} is repeated as ${trailer}`);
  }
  return { type, offset, bodyStart: offset + 8, bodyEnd: offset + total - 4 };
}

function requireBody(block: Block, bytes: number, what: string): void {
  if (block.bodyEnd - block.bodyStart < bytes) {
    throw badBlock(block.offset + 4, `${what} needs a body of at least ${bytes} bytes`);
  }
}

function describeInterface(
  file: FileBytes,
  block: Block,
  order: ByteOrder,
  id: number,
  section: number,
  sectionInterfaceId: number,
): CaptureInterface {
  requireBody(block, 8, 'interface description block');
  const linkType = file.u16(block.bodyStart, order, 'link type');
  const snapLength = file.u32(block.bodyStart + 4, order, 'snap length');
  let name: string | undefined;
  let tsResolution: CaptureInterface['tsResolution'] = { base: 10, exponent: 6 };
  let tsOffsetSeconds = 0n;
  for (const option of options(file, block.bodyStart + 8, block.bodyEnd, order)) {
    if (option.code === OPTION.IF_NAME) {
      name = utf8.decode(file.slice(option.valueOffset, option.length, 'if_name'));
    } else if (option.code === OPTION.IF_TSRESOL && option.length >= 1) {
      const value = file.u8(option.valueOffset, 'if_tsresol');
      tsResolution = (value & 0x80) !== 0 ? { base: 2, exponent: value & 0x7f } : { base: 10, exponent: value };
    } else if (option.code === OPTION.IF_TSOFFSET && option.length >= 8) {
      tsOffsetSeconds = file.i64(option.valueOffset, order, 'if_tsoffset');
    }
  }
  return { id, section, sectionInterfaceId, linkType, snapLength, name, tsResolution, tsOffsetSeconds, byteOrder: order };
}

function timestampNs(iface: CaptureInterface, high: number, low: number): bigint {
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  return ticksToNs(ticks, iface.tsResolution) + iface.tsOffsetSeconds * 1_000_000_000n;
}

/**
 * Yields the frames of a pcapng file in file order. `onInterface` is called for every
 * Interface Description Block, before any frame captured on it.
 */
export function* pcapngRecords(
  file: FileBytes,
  onInterface: (iface: CaptureInterface) => void = () => {},
): Generator<CaptureRecord, void, undefined> {
  let order = pcapngByteOrder(file);
  let section = -1;
  let sectionInterfaces: CaptureInterface[] = [];
  let interfaceCount = 0;
  let index = 0;
  let offset = 0;

  const lookup = (block: Block, id: number): CaptureInterface => {
    const iface = sectionInterfaces[id];
    if (iface === undefined) {
      throw new CaptureFormatError(
        CaptureErrorCode.UNKNOWN_INTERFACE,
        block.bodyStart,
        `packet on interface ${id}, section ${section} describes ${sectionInterfaces.length}`,
      );
    }
    return iface;
  };

  while (offset < file.length) {
    file.need(offset, 4, 'block type');
    if (file.u32(offset, 'big', 'block type') === BlockType.SECTION_HEADER) {
      order = sectionByteOrder(file, offset, offset === 0);
    }
    const block = readBlock(file, offset, order);
    const body = block.bodyStart;
    const bodyLength = block.bodyEnd - block.bodyStart;

    switch (block.type) {
      case BlockType.SECTION_HEADER: {
        requireBody(block, 16, 'section header block');
        const major = file.u16(body + 4, order, 'section version');
        const minor = file.u16(body + 6, order, 'section version');
        if (major !== 1) {
          throw new CaptureFormatError(
            CaptureErrorCode.UNSUPPORTED_VERSION,
            body + 4,
            `pcapng version ${major}.${minor}, expected 1.x`,
          );
        }
        section++;
        sectionInterfaces = [];
        break;
      }
      case BlockType.INTERFACE_DESCRIPTION: {
        const iface = describeInterface(file, block, order, interfaceCount, section, sectionInterfaces.length);
        sectionInterfaces.push(iface);
        interfaceCount++;
        onInterface(iface);
        break;
      }
      case BlockType.ENHANCED_PACKET:
      case BlockType.PACKET: {
        requireBody(block, 20, 'packet block');
        const interfaceNumber =
          block.type === BlockType.ENHANCED_PACKET
            ? file.u32(body, order, 'interface id')
            : file.u16(body, order, 'interface id');
        const iface = lookup(block, interfaceNumber);
        const high = file.u32(body + 4, order, 'timestamp');
        const low = file.u32(body + 8, order, 'timestamp');
        const capturedLength = file.u32(body + 12, order, 'captured length');
        const originalLength = file.u32(body + 16, order, 'original length');
        if (capturedLength > bodyLength - 20) {
          throw new CaptureFormatError(
            CaptureErrorCode.BAD_LENGTH,
            body + 12,
            `captured length ${capturedLength} exceeds the ${bodyLength - 20} data bytes of its block`,
          );
        }
        yield {
          index,
          timestampNs: timestampNs(iface, high, low),
          linkType: iface.linkType,
          capturedLength,
          originalLength,
          data: file.slice(body + 20, capturedLength, 'packet data'),
          interfaceId: iface.id,
          fileOffset: offset,
        };
        index++;
        break;
      }
      case BlockType.SIMPLE_PACKET: {
        requireBody(block, 4, 'simple packet block');
        const iface = lookup(block, 0);
        const originalLength = file.u32(body, order, 'original length');
        let capturedLength = Math.min(originalLength, bodyLength - 4);
        if (iface.snapLength > 0) capturedLength = Math.min(capturedLength, iface.snapLength);
        yield {
          index,
          timestampNs: null,
          linkType: iface.linkType,
          capturedLength,
          originalLength,
          data: file.slice(body + 4, capturedLength, 'packet data'),
          interfaceId: iface.id,
          fileOffset: offset,
        };
        index++;
        break;
      }
      default:
        break;
    }
    offset = block.bodyEnd + 4;
  }
}

// Entry point of the capture reader: recognises classic pcap (microsecond or nanosecond,
// either byte order) and pcapng, and returns the frames with their link type and lengths.
// Parsing is pure; readCaptureFile is the only function that touches the file system.
//
// Timestamps are `bigint` nanoseconds since the Unix epoch (null for pcapng Simple Packet
// Blocks, which have none). Frame bytes are views into the input, never copies.
import { readFileSync } from 'node:fs';
import { FileBytes } from './bytes.ts';
import type { CaptureFile, CaptureInterface, CaptureRecord } from './capture.ts';
import { CaptureErrorCode, CaptureFormatError, CaptureIoError } from './errors.ts';
import { classicInterface, classicRecords, isClassicMagic, readClassicHeader } from './pcap-classic.ts';
import { isPcapngMagic, pcapngByteOrder, pcapngRecords } from './pcapng.ts';

export type { CaptureFile, CaptureInterface, CaptureRecord } from './capture.ts';
export { ByteOrder, CaptureFormat } from './capture.ts';

function unknownFormat(bytes: Uint8Array): CaptureFormatError {
  if (bytes.length < 4) {
    return new CaptureFormatError(CaptureErrorCode.TRUNCATED, 0, `${bytes.length} bytes is too short for a capture file`);
  }
  return new CaptureFormatError(CaptureErrorCode.BAD_MAGIC, 0, 'neither a pcap nor a pcapng file');
}

/**
 * The frames of a capture, read lazily in file order. `onInterface` sees every interface
 * before its first frame. Throws CaptureFormatError at the first malformed byte; frames
 * before it have already been yielded.
 */
export function* captureRecords(
  bytes: Uint8Array,
  onInterface: (iface: CaptureInterface) => void = () => {},
): Generator<CaptureRecord, void, undefined> {
  const file = new FileBytes(bytes);
  if (isClassicMagic(file)) {
    const header = readClassicHeader(file);
    onInterface(classicInterface(header));
    yield* classicRecords(file, header);
  } else if (isPcapngMagic(file)) {
    yield* pcapngRecords(file, onInterface);
  } else {
    throw unknownFormat(bytes);
  }
}

/** Reads a whole capture held in memory. Throws CaptureFormatError if any part is malformed. */
export function readCapture(bytes: Uint8Array): CaptureFile {
  const file = new FileBytes(bytes);
  const interfaces: CaptureInterface[] = [];
  const records = [...captureRecords(bytes, (iface) => interfaces.push(iface))];
  if (isClassicMagic(file)) {
    return { format: 'pcap', byteOrder: readClassicHeader(file).byteOrder, interfaces, records };
  }
  return { format: 'pcapng', byteOrder: pcapngByteOrder(file), interfaces, records };
}

/** Reads a capture file from disk. I/O failures raise CaptureIoError (with the fs error as cause). */
export function readCaptureFile(path: string): CaptureFile {
  let bytes: Uint8Array;
  try {
    const buffer = readFileSync(path);
    // A plain Uint8Array view, so frame data is the same type whatever the source.
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new CaptureIoError(path, `cannot read: ${reason}`, { cause });
  }
  return readCapture(bytes);
}

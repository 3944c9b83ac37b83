// Bounds-checked little/big-endian reads over a capture file's bytes. Every read that would
// pass the end of the data raises PCAP_TRUNCATED with the offset where it started.
import type { ByteOrder } from './capture.ts';
import { CaptureErrorCode, CaptureFormatError } from './errors.ts';

export class FileBytes {
  readonly bytes: Uint8Array;
  readonly length: number;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.length = bytes.length;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws PCAP_TRUNCATED unless `n` bytes are present at `offset`. */
  need(offset: number, n: number, what: string): void {
    if (offset < 0 || n < 0 || offset + n > this.length) {
      const left = Math.max(0, this.length - offset);
      throw new CaptureFormatError(CaptureErrorCode.TRUNCATED, offset, `${what} needs ${n} bytes, ${left} left`);
    }
  }

  u16(offset: number, order: ByteOrder, what: string): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, order === 'little');
  }

  u32(offset: number, order: ByteOrder, what: string): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, order === 'little');
  }

  i64(offset: number, order: ByteOrder, what: string): bigint {
    this.need(offset, 8, what);
    return this.view.getBigInt64(offset, order === 'little');
  }

  u8(offset: number, what: string): number {
    this.need(offset, 1, what);
    return this.view.getUint8(offset);
  }

  /** A view of `n` bytes at `offset` (no copy). */
  slice(offset: number, n: number, what: string): Uint8Array {
    this.need(offset, n, what);
    return this.bytes.subarray(offset, offset + n);
  }
}

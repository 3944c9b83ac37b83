// A bounds-checked cursor over one message. Running past the end is TRUNCATED; no read ever
// allocates more than the bytes that are really there.
import { Limits } from './constants.ts';
import { ProtocolError } from './errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset: number;
  /** Reads stop here (the authentication tag, if any, lies beyond). */
  end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): number {
    if (this.end - this.offset < n) {
      throw new ProtocolError('TRUNCATED', this.offset, `${what} needs ${n} bytes, ${this.remaining} left`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(what: string): number {
    return this.view.getUint8(this.need(1, what));
  }
  i8(what: string): number {
    return this.view.getInt8(this.need(1, what));
  }
  u16(what: string): number {
    return this.view.getUint16(this.need(2, what));
  }
  i16(what: string): number {
    return this.view.getInt16(this.need(2, what));
  }
  u32(what: string): number {
    return this.view.getUint32(this.need(4, what));
  }
  i32(what: string): number {
    return this.view.getInt32(this.need(4, what));
  }
  u64(what: string): bigint {
    return this.view.getBigUint64(this.need(8, what));
  }
  i64(what: string): bigint {
    return this.view.getBigInt64(this.need(8, what));
  }
  f32(what: string): number {
    return this.view.getFloat32(this.need(4, what));
  }
  f64(what: string): number {
    return this.view.getFloat64(this.need(8, what));
  }
  /** Unsigned 48-bit big-endian integer. */
  u48(what: string): number {
    const at = this.need(6, what);
    return this.view.getUint16(at) * 2 ** 32 + this.view.getUint32(at + 2);
  }

  /** Unsigned LEB128, at most 5 bytes, at most 2³²−1, minimally encoded. */
  varint(what: string): number {
    const start = this.offset;
    let value = 0;
    // A running scale, not 2 ** (7 * i): V8 calls its pow() for that, a measurable part of decoding.
    let scale = 1;
    for (let i = 0; i < Limits.MAX_VARINT_BYTES; i++, scale *= 0x80) {
      if (this.offset >= this.end) {
        throw new ProtocolError('TRUNCATED', start, `${what}: varint ends early`);
      }
      const byte = this.bytes[this.offset++] as number;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) {
          throw new ProtocolError('BAD_VARINT', start, `${what}: varint is not minimally encoded`);
        }
        if (value > Limits.MAX_VARINT) {
          throw new ProtocolError('BAD_VARINT', start, `${what}: varint exceeds 2^32-1`);
        }
        return value;
      }
    }
    throw new ProtocolError('BAD_VARINT', start, `${what}: varint longer than ${Limits.MAX_VARINT_BYTES} bytes`);
  }

  /** A view of the next n bytes (no copy). */
  take(n: number, what: string): Uint8Array {
    const at = this.need(n, what);
    return this.bytes.subarray(at, at + n);
  }

  /** A varint length (at most MAX_STRING) followed by that many bytes, copied. */
  lengthPrefixed(what: string): Uint8Array {
    const at = this.offset;
    const n = this.varint(what);
    if (n > Limits.MAX_STRING) {
      throw new ProtocolError('STRING_TOO_LONG', at, `${what} is ${n} bytes, the limit is ${Limits.MAX_STRING}`);
    }
    return this.take(n, what).slice();
  }

  /** A length-prefixed UTF-8 string. */
  string(what: string): string {
    const at = this.offset;
    const n = this.varint(what);
    if (n > Limits.MAX_STRING) {
      throw new ProtocolError('STRING_TOO_LONG', at, `${what} is ${n} bytes, the limit is ${Limits.MAX_STRING}`);
    }
    const raw = this.take(n, what);
    // Short ASCII strings are the common case; TextDecoder's call costs more than the loop.
    if (n <= 32) {
      let ascii = '';
      let i = 0;
      for (; i < n; i++) {
        const c = raw[i] as number;
        if (c >= 0x80) break;
        ascii += String.fromCharCode(c);
      }
      if (i === n) return ascii;
    }
    try {
      return utf8.decode(raw);
    } catch (cause) {
      throw new ProtocolError('BAD_UTF8', at, `${what} is not valid UTF-8`, { cause });
    }
  }
}

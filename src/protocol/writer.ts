// A growable output buffer for the encoder. One scratch buffer is reused between messages; each
// finished message is copied out at its exact size.
import { Limits } from './constants.ts';
import { ProtocolError } from './errors.ts';

const utf8 = new TextEncoder();

// Finished messages are cut from a shared slab, as Node's Buffer pool does it: a typed array of
// more than 64 bytes made with `new` or slice() gets a backing store of its own, which costs V8
// 1.2–2.6 µs, against 0.1 µs for a view of an ArrayBuffer that exists (an 85-byte READINGS of 10
// readings took 1.5 µs to encode, 0.9 of them in slice()). Up to 64 bytes V8 keeps a typed array
// on its heap, which is quicker still; messages larger than a quarter slab get their own store.
const ON_HEAP_MAX = 64;
const SLAB_SIZE = 8 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

function cut(n: number): Uint8Array {
  if (n > SLAB_SIZE / 4) return new Uint8Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed += (n + 7) & ~7; // the next one starts 8-byte aligned
  return out;
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  offset = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.offset = 0;
  }

  /**
   * Reserves n bytes and returns where they start. It may replace `buf` and `view`, so callers
   * take the position first and only then touch `buf` or `view`.
   */
  private room(n: number): number {
    const at = this.offset;
    if (at + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < at + n) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.buf.subarray(0, at));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    this.offset += n;
    return at;
  }

  u8(v: number): void {
    const at = this.room(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.room(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.room(2);
    this.view.setUint16(at, v);
  }
  i16(v: number): void {
    const at = this.room(2);
    this.view.setInt16(at, v);
  }
  u32(v: number): void {
    const at = this.room(4);
    this.view.setUint32(at, v);
  }
  i32(v: number): void {
    const at = this.room(4);
    this.view.setInt32(at, v);
  }
  u64(v: bigint): void {
    const at = this.room(8);
    this.view.setBigUint64(at, v);
  }
  i64(v: bigint): void {
    const at = this.room(8);
    this.view.setBigInt64(at, v);
  }
  f32(v: number): void {
    const at = this.room(4);
    this.view.setFloat32(at, v);
  }
  f64(v: number): void {
    const at = this.room(8);
    this.view.setFloat64(at, v);
  }
  u48(v: number): void {
    const at = this.room(6);
    this.view.setUint16(at, Math.floor(v / 2 ** 32));
    this.view.setUint32(at + 2, v % 2 ** 32);
  }

  /** Unsigned LEB128; the caller has checked 0 ≤ v ≤ 2³²−1. */
  varint(v: number): void {
    while (v >= 0x80) {
      const at = this.room(1);
      this.buf[at] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    const at = this.room(1);
    this.buf[at] = v;
  }

  bytes(b: Uint8Array): void {
    const at = this.room(b.length);
    this.buf.set(b, at);
  }

  /** A varint length followed by the bytes; longer than MAX_STRING is refused. */
  lengthPrefixed(b: Uint8Array, what: string): void {
    if (b.length > Limits.MAX_STRING) {
      throw new ProtocolError('STRING_TOO_LONG', this.offset, `${what} is ${b.length} bytes, the limit is ${Limits.MAX_STRING}`);
    }
    this.varint(b.length);
    this.bytes(b);
  }

  string(s: string, what: string): void {
    if (!s.isWellFormed()) {
      throw new ProtocolError('BAD_UTF8', this.offset, `${what} has a lone surrogate and cannot be UTF-8`);
    }
    this.lengthPrefixed(utf8.encode(s), what);
  }

  /**
   * The bytes written so far, copied out: later writes do not change them. A small message is a
   * view of a shared slab (its `buffer` holds other messages too: read it through byteOffset).
   */
  finish(): Uint8Array {
    if (this.offset <= ON_HEAP_MAX) return this.buf.slice(0, this.offset);
    const out = cut(this.offset);
    out.set(this.buf.subarray(0, this.offset));
    return out;
  }
}

// The readings of one message packed into bytes, as the SQLite store keeps them (since schema
// version 2, where they made a message one row instead of a row per reading; version 3 keeps a
// run of messages in a row, src/store/runs.ts, each with its readings packed so). The values are
// checked as src/store/values.ts checks cells: what one store refuses, the other refuses too.
//
// Each reading, one after the other (multi-byte numbers little-endian):
//   type     u8, the value type code of src/protocol/constants.ts
//   sensor   signed varint (zigzag, so that any safe integer fits)
//   delta    signed varint; the reading's time is the message's base time + delta
//   value    bool u8 0/1 · int8/uint8 1 byte · int16/uint16 2 · int32/uint32 4
//            int64/timestamp i64 · uint64 u64 · float32/float64 f64 (a float32 is kept as the
//            double it was given, as the REAL cell of version 1 kept it) · geo two f64 (lat, lon)
//            string/bytes: unsigned varint length, then the UTF-8 or raw bytes
import { ValueType } from '../protocol/constants.ts';
import type { Reading, Value } from '../protocol/types.ts';
import type { PackedReadings } from './types.ts';
import { ValueCellError, refuse, typeName } from './values.ts';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** What packing a message's readings gives. `bytes` is valid until the next call of pack(). */
export interface Packed {
  readonly bytes: Buffer;
  /** Earliest and latest reading time, Unix ms (for `since` without unpacking). */
  readonly minTs: number;
  readonly maxTs: number;
}

/** One unpacked reading. */
export interface UnpackedReading {
  readonly sensor: number;
  readonly ts: number;
  readonly value: Value;
}

let buf = Buffer.allocUnsafe(16 * 1024);
let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
let at = 0;

function room(n: number): void {
  if (at + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < at + n) size *= 2;
  const bigger = Buffer.allocUnsafe(size);
  buf.copy(bigger, 0, 0, at);
  buf = bigger;
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function uvarint(v: number): void {
  room(8);
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
}

function svarint(what: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw new ValueCellError(`${what} must be a whole number, not ${String(v)}`);
  uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
}

function safeInteger(what: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw new ValueCellError(`${what} must be a whole number, not ${String(v)}`);
  return v;
}

function intIn(v: Value, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) refuse(v.type, value);
  return value;
}

function writeValue(v: Value): void {
  const value: unknown = v.value;
  switch (v.type) {
    case 'bool':
      if (typeof value !== 'boolean') refuse(v.type, value);
      room(1);
      buf[at++] = value ? 1 : 0;
      return;
    case 'int8': room(1); view.setInt8(at, intIn(v, value, -128, 127)); at += 1; return;
    case 'uint8': room(1); view.setUint8(at, intIn(v, value, 0, 255)); at += 1; return;
    case 'int16': room(2); view.setInt16(at, intIn(v, value, -32768, 32767), true); at += 2; return;
    case 'uint16': room(2); view.setUint16(at, intIn(v, value, 0, 65535), true); at += 2; return;
    case 'int32': room(4); view.setInt32(at, intIn(v, value, -2147483648, 2147483647), true); at += 4; return;
    case 'uint32': room(4); view.setUint32(at, intIn(v, value, 0, 4294967295), true); at += 4; return;
    case 'int64': case 'timestamp':
      if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) refuse(v.type, value);
      room(8);
      view.setBigInt64(at, value, true);
      at += 8;
      return;
    case 'uint64':
      if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) refuse(v.type, value);
      room(8);
      view.setBigUint64(at, value, true);
      at += 8;
      return;
    case 'float32': case 'float64':
      if (typeof value !== 'number') refuse(v.type, value);
      room(8);
      view.setFloat64(at, value, true);
      at += 8;
      return;
    case 'string': {
      // A lone surrogate would not survive the trip through UTF-8.
      if (typeof value !== 'string' || !value.isWellFormed()) refuse(v.type, value);
      const n = Buffer.byteLength(value);
      uvarint(n);
      room(n);
      at += buf.write(value, at, n, 'utf8');
      return;
    }
    case 'bytes':
      if (!(value instanceof Uint8Array)) refuse(v.type, value);
      uvarint(value.length);
      room(value.length);
      buf.set(value, at);
      at += value.length;
      return;
    case 'geo': {
      if (typeof value !== 'object' || value === null || !('lat' in value) || !('lon' in value)) refuse(v.type, value);
      const { lat, lon } = value;
      if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) {
        refuse(v.type, value);
      }
      room(16);
      view.setFloat64(at, lat, true);
      view.setFloat64(at + 8, lon, true);
      at += 16;
      return;
    }
  }
  // Reached only by an untyped caller with a type the protocol does not define.
  refuse(String((v as { type: unknown }).type), value);
}

/**
 * Packs the readings of a message taken at `baseTime`. Throws ValueCellError for a value that
 * does not fit its type, or a sensor, delta or time that is not a safe integer.
 */
export function pack(baseTime: number, readings: readonly Reading[]): Packed {
  safeInteger('the base time', baseTime);
  at = 0;
  let minTs = Infinity;
  let maxTs = -Infinity;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i];
    if (r === undefined) throw new ValueCellError(`the batch has a hole at reading ${i}`);
    const code: number | undefined = ValueType[r.type];
    if (code === undefined) refuse(String(r.type), r.value);
    room(1);
    buf[at++] = code;
    svarint('a sensor id', r.sensor);
    svarint('a time delta', r.delta);
    const ts = safeInteger('a reading time', baseTime + r.delta);
    if (ts < minTs) minTs = ts;
    if (ts > maxTs) maxTs = ts;
    writeValue(r);
  }
  if (readings.length === 0) minTs = maxTs = baseTime;
  return { bytes: buf.subarray(0, at), minTs, maxTs };
}

/**
 * Packs the readings of a message into a buffer of their own (pack() reuses its buffer). Throws
 * as pack() does.
 */
export function packReadings(baseTime: number, readings: readonly Reading[]): PackedReadings {
  const { bytes, minTs, maxTs } = pack(baseTime, readings);
  const own = Buffer.allocUnsafe(bytes.length);
  bytes.copy(own);
  return { bytes: own, count: readings.length, minTs, maxTs };
}

/** Whether a batch's readings come packed (packReadings) rather than as decoded. */
export function isPacked(readings: readonly Reading[] | PackedReadings): readings is PackedReadings {
  return !Array.isArray(readings);
}

/**
 * Reads the varints and fixed-size fields the store's own formats are made of (packed readings
 * here, run bodies in src/store/runs.ts). Throws ValueCellError, naming `what`, past the end.
 */
export class ByteReader {
  protected readonly bytes: Uint8Array;
  readonly #what: string;
  #at = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.#what = what;
  }

  get done(): boolean {
    return this.#at >= this.bytes.length;
  }

  /** Takes `n` bytes and returns where they start. */
  need(n: number): number {
    const start = this.#at;
    if (start + n > this.bytes.length) throw new ValueCellError(`${this.#what} ends early at byte ${start}`);
    this.#at += n;
    return start;
  }

  u8(): number {
    return this.bytes[this.need(1)]!;
  }

  uvarint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new ValueCellError(`${this.#what} has a varint that is too long`);
    }
  }

  /** A zigzag varint. */
  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}

/** Reads a packed blob back. Throws ValueCellError for bytes that are not a packed blob. */
export class Unpacker extends ByteReader {
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    super(bytes, 'a packed reading');
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The next reading of a message taken at `baseTime`. */
  next(baseTime: number): UnpackedReading {
    const type = typeName(this.u8()!);
    const sensor = this.svarint();
    const ts = baseTime + this.svarint();
    const v = this.#view;
    let value: Value;
    switch (type) {
      case 'bool': value = { type, value: this.u8() !== 0 }; break;
      case 'int8': value = { type, value: v.getInt8(this.need(1)) }; break;
      case 'uint8': value = { type, value: v.getUint8(this.need(1)) }; break;
      case 'int16': value = { type, value: v.getInt16(this.need(2), true) }; break;
      case 'uint16': value = { type, value: v.getUint16(this.need(2), true) }; break;
      case 'int32': value = { type, value: v.getInt32(this.need(4), true) }; break;
      case 'uint32': value = { type, value: v.getUint32(this.need(4), true) }; break;
      case 'int64': case 'timestamp': value = { type, value: v.getBigInt64(this.need(8), true) }; break;
      case 'uint64': value = { type, value: v.getBigUint64(this.need(8), true) }; break;
      case 'float32': case 'float64': value = { type, value: v.getFloat64(this.need(8), true) }; break;
      case 'string': {
        const n = this.uvarint();
        const start = this.need(n);
        value = { type, value: Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, n).toString('utf8') };
        break;
      }
      case 'bytes': {
        const n = this.uvarint();
        const start = this.need(n);
        // A fresh plain Uint8Array, never a view of the row's buffer (a Buffer).
        const out = new Uint8Array(n);
        out.set(this.bytes.subarray(start, start + n));
        value = { type, value: out };
        break;
      }
      case 'geo': {
        const start = this.need(16);
        value = { type, value: { lat: v.getFloat64(start, true), lon: v.getFloat64(start + 8, true) } };
        break;
      }
    }
    return { sensor, ts, value };
  }
}

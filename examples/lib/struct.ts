// Python's struct module for TypeScript: pack and unpack the same format strings ("=iif", "<hH4s")
// into the same bytes, so a TypeScript peer can talk to a Python one that uses struct.pack.
//
// Byte order (first character, optional):
//   @  native order, native sizes, C alignment (padding before an item to a multiple of its size)
//   =  native order, standard sizes, no padding
//   <  little-endian, >  big-endian, !  network (big-endian); standard sizes, no padding
// Codes: x pad byte, ? bool, b/B int8, h/H int16, i/I int32, l/L int32 standard / C long native,
//        q/Q int64 (bigint), e half float, f float, d double, s byte string (the count is its length).
// A count before a code repeats it ("3i" is three ints); before "s" it is the string length.
// Native sizes follow the LP64 ABI of 64-bit Linux and macOS: a C long is 8 bytes, so native
// l/L are 8 bytes there and come back as bigint (always, so that their type never changes).
import { endianness } from 'node:os';

export class StructError extends Error {
  override name = 'StructError';
}

/** A value unpack() can return. */
export type StructValue = number | bigint | boolean | Buffer;
/** A value pack() accepts. */
export type StructInput = number | bigint | boolean | Uint8Array;

// ---- Types: what a literal format string packs and unpacks -------------------------------------
// `unpack('=iif', data)` is typed [number, number, number]; `unpack('<q?4s', data)` is
// [bigint, boolean, Buffer]. A format only known at run time gives StructValue[].

type Space = ' ' | '\t' | '\n' | '\r' | '\v' | '\f';
type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type OrderChar = '@' | '=' | '<' | '>' | '!';
type Code = 'x' | '?' | 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' | 'e' | 'f' | 'd' | 's';
type Dir = 'in' | 'out';

type ItemType<C extends Code, Native extends boolean, D extends Dir> = C extends '?'
  ? boolean
  : C extends 'q' | 'Q'
    ? bigint
    : C extends 'l' | 'L'
      ? Native extends true
        ? bigint
        : number
      : C extends 's'
        ? D extends 'out'
          ? Buffer
          : Uint8Array
        : number;

type Loose<D extends Dir> = D extends 'out' ? StructValue[] : StructInput[];
type Times<T, N extends number, Acc extends unknown[] = []> = Acc['length'] extends N ? Acc : Times<T, N, [...Acc, T]>;
type Repeat<T, Count extends string> = Count extends ''
  ? [T]
  : Count extends `${infer N extends number}`
    ? N extends 0
      ? []
      : `${N}` extends `${Digit}` | `${Digit}${Digit}` // up to 99 items spelled out, more is T[]
        ? Times<T, N>
        : T[]
    : T[];

type Parse<S extends string, Native extends boolean, D extends Dir, Count extends string = '', Acc extends unknown[] = []> =
  S extends `${infer C}${infer Rest}`
    ? C extends Digit
      ? Parse<Rest, Native, D, `${Count}${C}`, Acc>
      : C extends Space
        ? Count extends ''
          ? Parse<Rest, Native, D, '', Acc>
          : Loose<D>
        : C extends 'x'
          ? Parse<Rest, Native, D, '', Acc>
          : C extends 's'
            ? Parse<Rest, Native, D, '', [...Acc, ItemType<'s', Native, D>]>
            : C extends Code
              ? Parse<Rest, Native, D, '', [...Acc, ...Repeat<ItemType<C, Native, D>, Count>]>
              : Loose<D>
    : Count extends ''
      ? Acc
      : Loose<D>;

type Values<F extends string, D extends Dir> = string extends F
  ? Loose<D>
  : F extends `${infer O extends OrderChar}${infer Rest}`
    ? Parse<Rest, O extends '@' ? true : false, D>
    : Parse<F, true, D>;

/** The tuple unpack(F, …) returns. */
export type Unpacked<F extends string> = Values<F, 'out'>;
/** The values pack(F, …) takes. */
export type PackArgs<F extends string> = Values<F, 'in'>;

// ---- Layout: where each value goes ---------------------------------------------------------------

type Kind = 'pad' | 'bool' | 'int' | 'bigint' | 'half' | 'float' | 'double' | 'bytes';
interface Field {
  readonly code: string;
  readonly kind: Kind;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  readonly native: boolean;
}
interface Layout {
  readonly size: number;
  readonly fields: readonly Field[];
  readonly littleEndian: boolean;
}

const is64Bit = process.platform !== 'win32' && /64|s390x/.test(process.arch);
const NATIVE_LONG = is64Bit ? 8 : 4;
const STANDARD: Record<string, number> = { x: 1, '?': 1, b: 1, B: 1, h: 2, H: 2, i: 4, I: 4, l: 4, L: 4, q: 8, Q: 8, e: 2, f: 4, d: 8, s: 1 };
const NATIVE: Record<string, number> = { ...STANDARD, l: NATIVE_LONG, L: NATIVE_LONG };
const MAX_SIZE = 2 ** 31 - 1;

function kindOf(code: string, native: boolean): Kind {
  switch (code) {
    case 'x': return 'pad';
    case '?': return 'bool';
    case 'e': return 'half';
    case 'f': return 'float';
    case 'd': return 'double';
    case 's': return 'bytes';
    case 'q': case 'Q': return 'bigint';
    case 'l': case 'L': return native ? 'bigint' : 'int';
    default: return 'int';
  }
}

const layouts = new Map<string, Layout>();

function compile(format: string): Layout {
  const cached = layouts.get(format);
  if (cached) return cached;
  let pos = 0;
  let order = '@';
  if (format.length > 0 && '@=<>!'.includes(format.charAt(0))) {
    order = format.charAt(0);
    pos = 1;
  }
  const native = order === '@';
  const littleEndian = order === '<' || ((order === '@' || order === '=') && endianness() === 'LE');
  const sizes = native ? NATIVE : STANDARD;
  const fields: Field[] = [];
  let size = 0;
  while (pos < format.length) {
    if (' \t\n\r\v\f'.includes(format.charAt(pos))) {
      pos++;
      continue;
    }
    const digits = /^\d+/.exec(format.slice(pos))?.[0] ?? '';
    const count = digits === '' ? 1 : Number(digits);
    pos += digits.length;
    if (pos >= format.length) throw new StructError('repeat count given without format specifier');
    const code = format.charAt(pos++);
    const itemSize = sizes[code];
    if (itemSize === undefined) throw new StructError(`bad char in struct format: '${code}'`);
    // Native mode pads so each item starts at a multiple of its own size, as a C compiler would
    // (x and s have size 1, so they never move). It does so even for a count of 0: "@b0l" is 8.
    if (native) size = Math.ceil(size / itemSize) * itemSize;
    const kind = kindOf(code, native);
    const signed = code === code.toLowerCase();
    if (kind === 'bytes') {
      fields.push({ code, kind, offset: size, size: count, signed, native });
      size += count;
    } else if (kind === 'pad') {
      size += count;
    } else {
      if (size + count * itemSize > MAX_SIZE) throw new StructError('total struct size too long');
      for (let k = 0; k < count; k++, size += itemSize) fields.push({ code, kind, offset: size, size: itemSize, signed, native });
    }
    if (size > MAX_SIZE) throw new StructError('total struct size too long');
  }
  const layout = { size, fields, littleEndian };
  layouts.set(format, layout);
  return layout;
}

/** The number of bytes pack(format, …) produces, like Python's struct.calcsize. */
export function calcsize(format: string): number {
  return compile(format).size;
}

// ---- Half precision (IEEE 754 binary16), rounded straight from the double like CPython does ----

function packHalf(x: number, code: string): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  if (Number.isNaN(x)) return 0x7e00; // JavaScript cannot see a NaN's sign: always the positive quiet NaN
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a)); // log2 may be off by one near powers of two: correct it
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  if (e >= 16) throw new StructError(`float too large to pack with ${code} format`);
  let f = a / 2 ** e; // 1 <= f < 2, exact
  if (e < -25) {
    f = 0; // below half the smallest subnormal: rounds to zero
    e = 0;
  } else if (e < -14) {
    f *= 2 ** (14 + e); // subnormal
    e = 0;
  } else {
    e += 15;
    f -= 1;
  }
  f *= 1024;
  let bits = Math.trunc(f);
  const rest = f - bits;
  if (rest > 0.5 || (rest === 0.5 && bits % 2 === 1)) {
    bits++;
    if (bits === 1024) {
      bits = 0;
      e++;
      if (e === 31) throw new StructError(`float too large to pack with ${code} format`);
    }
  }
  return bits | (e << 10) | sign;
}

function unpackHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0x1f) return f === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * f * 2 ** -24;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

// ---- pack / unpack -------------------------------------------------------------------------------

function toInteger(value: unknown, field: Field): bigint {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  else throw new StructError(`required argument is not an integer (format '${field.code}')`);
  const bits = BigInt(field.size * 8);
  const min = field.signed ? -(1n << (bits - 1n)) : 0n;
  const max = field.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (n < min || n > max) throw new StructError(`'${field.code}' format requires ${min} <= number <= ${max}`);
  return n;
}

function toFloat(value: unknown, field: Field): number {
  if (typeof value !== 'number') throw new StructError(`required argument is not a float (format '${field.code}')`);
  return value;
}

function write(view: DataView, field: Field, value: unknown, le: boolean): void {
  const at = field.offset;
  switch (field.kind) {
    case 'bool':
      if (typeof value !== 'boolean') throw new StructError(`'?' format requires a boolean`);
      view.setUint8(at, value ? 1 : 0);
      return;
    case 'bytes': {
      if (!(value instanceof Uint8Array)) throw new StructError(`argument for 's' must be a bytes object (Uint8Array)`);
      // Longer strings are cut, shorter ones padded with zero bytes (the buffer starts zeroed).
      new Uint8Array(view.buffer, view.byteOffset + at, field.size).set(value.subarray(0, field.size));
      return;
    }
    case 'half':
      view.setUint16(at, packHalf(toFloat(value, field), field.code), le);
      return;
    case 'float': {
      const x = toFloat(value, field);
      // Too big for a float: the standard modes refuse, native '@' quietly stores infinity, as a
      // C cast does (CPython behaves the same way).
      if (!field.native && !Number.isFinite(Math.fround(x)) && Number.isFinite(x)) {
        throw new StructError('float too large to pack with f format');
      }
      view.setFloat32(at, x, le);
      return;
    }
    case 'double':
      view.setFloat64(at, toFloat(value, field), le);
      return;
    case 'int':
    case 'bigint': {
      const n = toInteger(value, field);
      if (field.size === 8) {
        if (field.signed) view.setBigInt64(at, n, le);
        else view.setBigUint64(at, n, le);
      } else if (field.size === 4) {
        if (field.signed) view.setInt32(at, Number(n), le);
        else view.setUint32(at, Number(n), le);
      } else if (field.size === 2) {
        if (field.signed) view.setInt16(at, Number(n), le);
        else view.setUint16(at, Number(n), le);
      } else if (field.signed) view.setInt8(at, Number(n));
      else view.setUint8(at, Number(n));
      return;
    }
    case 'pad':
      return;
  }
}

function read(view: DataView, field: Field, le: boolean): StructValue {
  const at = field.offset;
  switch (field.kind) {
    case 'bool':
      return view.getUint8(at) !== 0;
    case 'bytes':
      return Buffer.from(view.buffer.slice(view.byteOffset + at, view.byteOffset + at + field.size));
    case 'half':
      return unpackHalf(view.getUint16(at, le));
    case 'float':
      return view.getFloat32(at, le);
    case 'double':
      return view.getFloat64(at, le);
    case 'int':
    case 'bigint': {
      let n: number | bigint;
      if (field.size === 8) n = field.signed ? view.getBigInt64(at, le) : view.getBigUint64(at, le);
      else if (field.size === 4) n = field.signed ? view.getInt32(at, le) : view.getUint32(at, le);
      else if (field.size === 2) n = field.signed ? view.getInt16(at, le) : view.getUint16(at, le);
      else n = field.signed ? view.getInt8(at) : view.getUint8(at);
      return field.kind === 'bigint' ? BigInt(n) : Number(n);
    }
    case 'pad':
      throw new Error('unreachable: pad bytes carry no value');
  }
}

/** Packs values into bytes laid out by `format`, like Python's struct.pack. */
export function pack<F extends string>(format: F, ...values: PackArgs<F>): Buffer;
export function pack(format: string, ...values: unknown[]): Buffer {
  const layout = compile(format);
  if (values.length !== layout.fields.length) {
    throw new StructError(`pack expected ${layout.fields.length} items for packing (got ${values.length})`);
  }
  const out = Buffer.alloc(layout.size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  layout.fields.forEach((field, i) => write(view, field, values[i], layout.littleEndian));
  return out;
}

/** Unpacks exactly calcsize(format) bytes, like Python's struct.unpack. */
export function unpack<F extends string>(format: F, data: Uint8Array): Unpacked<F>;
export function unpack(format: string, data: Uint8Array): StructValue[] {
  const layout = compile(format);
  if (data.byteLength !== layout.size) throw new StructError(`unpack requires a buffer of ${layout.size} bytes`);
  return unpackFrom(format, data, 0) as StructValue[];
}

/** Unpacks calcsize(format) bytes starting at `offset`; longer buffers are fine, like struct.unpack_from. */
export function unpackFrom<F extends string>(format: F, data: Uint8Array, offset?: number): Unpacked<F>;
export function unpackFrom(format: string, data: Uint8Array, offset = 0): StructValue[] {
  const layout = compile(format);
  if (!Number.isInteger(offset) || offset < 0 || offset + layout.size > data.byteLength) {
    throw new StructError(
      `unpack_from requires a buffer of at least ${layout.size + offset} bytes for unpacking ${layout.size} bytes at offset ${offset} (actual buffer size is ${data.byteLength})`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset + offset, layout.size);
  return layout.fields.map((field) => read(view, field, layout.littleEndian));
}

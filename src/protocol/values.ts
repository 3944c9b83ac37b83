// Typed values: one function writes each type, one reads it. The value's type code has already
// been read or written by the caller.
import { Limits, ValueType, byCode, type ValueTypeName } from './constants.ts';
import { ProtocolError } from './errors.ts';
import type { Reader } from './reader.ts';
import type { Value } from './types.ts';
import type { Writer } from './writer.ts';

const TYPE_BY_CODE = byCode<ValueTypeName>(ValueType);

/** The value type a code stands for, or UNKNOWN_VALUE_TYPE. */
export function valueTypeOf(code: number, offset: number): ValueTypeName {
  const name = TYPE_BY_CODE[code];
  if (name === undefined) throw new ProtocolError('UNKNOWN_VALUE_TYPE', offset, `value type 0x${code.toString(16)} is not defined`);
  return name;
}

/** Bytes a value of this type takes on the wire, for the fixed-size types; undefined otherwise. */
export const FIXED_SIZE: Readonly<Partial<Record<ValueTypeName, number>>> = {
  bool: 1, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8,
  float32: 4, float64: 8, timestamp: 8, geo: 8,
};

/** Reads a value of the given type: the `value` field of a Value of that type. */
export function readValue(r: Reader, type: ValueTypeName): Value['value'] {
  switch (type) {
    case 'bool': {
      const at = r.offset;
      const b = r.u8('bool value');
      if (b > 1) throw new ProtocolError('BAD_VALUE', at, `bool must be 0 or 1, got ${b}`);
      return b === 1;
    }
    case 'int8': return r.i8('int8 value');
    case 'int16': return r.i16('int16 value');
    case 'int32': return r.i32('int32 value');
    case 'int64': return r.i64('int64 value');
    case 'uint8': return r.u8('uint8 value');
    case 'uint16': return r.u16('uint16 value');
    case 'uint32': return r.u32('uint32 value');
    case 'uint64': return r.u64('uint64 value');
    case 'float32': return r.f32('float32 value');
    case 'float64': return r.f64('float64 value');
    case 'timestamp': return r.i64('timestamp value');
    case 'string': return r.string('string value');
    case 'bytes': return r.lengthPrefixed('bytes value');
    case 'geo': {
      const at = r.offset;
      const lat = r.i32('latitude');
      const lon = r.i32('longitude');
      if (Math.abs(lat) > Limits.MAX_LAT_E7 || Math.abs(lon) > Limits.MAX_LON_E7) {
        throw new ProtocolError('BAD_VALUE', at, `position ${lat / 1e7},${lon / 1e7} is outside ±90,±180 degrees`);
      }
      return { lat: lat / 1e7, lon: lon / 1e7 };
    }
  }
}

const INT_RANGE = {
  int8: [-(2 ** 7), 2 ** 7 - 1],
  int16: [-(2 ** 15), 2 ** 15 - 1],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint8: [0, 2 ** 8 - 1],
  uint16: [0, 2 ** 16 - 1],
  uint32: [0, 2 ** 32 - 1],
} as const;

const BIG_RANGE = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  timestamp: [-(2n ** 63n), 2n ** 63n - 1n],
} as const;

/** Nearest integer, ties away from zero (Math.round sends ties toward +∞). */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function badValue(w: Writer, v: Value, why: string): ProtocolError {
  return new ProtocolError('BAD_VALUE', w.offset, `${v.type} ${String(v.value)}: ${why}`);
}

export function writeValue(w: Writer, v: Value): void {
  switch (v.type) {
    case 'bool':
      if (typeof v.value !== 'boolean') throw badValue(w, v, 'not a boolean');
      w.u8(v.value ? 1 : 0);
      return;
    case 'int8': case 'int16': case 'int32': case 'uint8': case 'uint16': case 'uint32': {
      const [lo, hi] = INT_RANGE[v.type];
      if (!Number.isInteger(v.value) || v.value < lo || v.value > hi) throw badValue(w, v, `not an integer in ${lo}…${hi}`);
      if (v.type === 'int8') w.i8(v.value);
      else if (v.type === 'int16') w.i16(v.value);
      else if (v.type === 'int32') w.i32(v.value);
      else if (v.type === 'uint8') w.u8(v.value);
      else if (v.type === 'uint16') w.u16(v.value);
      else w.u32(v.value);
      return;
    }
    case 'int64': case 'uint64': case 'timestamp': {
      const [lo, hi] = BIG_RANGE[v.type];
      if (typeof v.value !== 'bigint' || v.value < lo || v.value > hi) throw badValue(w, v, `not a bigint in ${lo}…${hi}`);
      if (v.type === 'uint64') w.u64(v.value);
      else w.i64(v.value);
      return;
    }
    case 'float32':
      if (typeof v.value !== 'number') throw badValue(w, v, 'not a number');
      w.f32(v.value);
      return;
    case 'float64':
      if (typeof v.value !== 'number') throw badValue(w, v, 'not a number');
      w.f64(v.value);
      return;
    case 'string':
      w.string(v.value, 'string value');
      return;
    case 'bytes':
      w.lengthPrefixed(v.value, 'bytes value');
      return;
    case 'geo': {
      const lat = roundHalfAway(v.value.lat * 1e7);
      const lon = roundHalfAway(v.value.lon * 1e7);
      if (!(Math.abs(lat) <= Limits.MAX_LAT_E7 && Math.abs(lon) <= Limits.MAX_LON_E7)) {
        throw new ProtocolError('BAD_VALUE', w.offset, `position ${v.value.lat},${v.value.lon} is outside ±90,±180 degrees`);
      }
      w.i32(lat);
      w.i32(lon);
      return;
    }
  }
}

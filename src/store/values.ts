// How a reading's value is kept in a database cell, and back. The memory store keeps these
// cells, and version 1 of the SQLite schema kept them in its `readings` table (the migration to
// version 2 reads them back); the packed readings of src/store/packed.ts make the same checks, so
// a value the stores refuse and a value they return agree.
//
// The cell for each type (the `type` column holds the code of src/protocol/constants.ts):
//   bool                          INTEGER 0 or 1
//   int8 … uint32                 INTEGER
//   int64, timestamp              INTEGER (bound as bigint, read with safe integers)
//   uint64                        TEXT, decimal (it may not fit a signed 64-bit INTEGER)
//   float32, float64              REAL; NULL stands for NaN (SQLite turns a bound NaN into NULL).
//                                 -0 and ±Infinity are kept as REAL.
//   string                        TEXT
//   bytes                         BLOB (possibly empty)
//   geo                           TEXT "lat,lon": each the shortest decimal that reads back as
//                                 the same double ("-0" for negative zero)
import { VALUE_TYPE_NAMES, ValueType, type ValueTypeName } from '../protocol/constants.ts';
import type { Value } from '../protocol/types.ts';

/** What a cell holds: what better-sqlite3 binds and returns (with safe integers on). */
export type Cell = null | number | bigint | string | Uint8Array;

const INT_RANGE: Record<string, readonly [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Thrown for a value that does not fit its type; the stores turn it into StoreError. */
export class ValueCellError extends TypeError {
  override name = 'ValueCellError';
}

/** Throws the ValueCellError for a value that does not fit its type. */
export function refuse(type: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
  throw new ValueCellError(`a ${type} value cannot be ${shown.slice(0, 60)} (${typeof value})`);
}

function floatText(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** The type code stored in the `type` column. */
export function typeCode(type: ValueTypeName): number {
  return ValueType[type];
}

/** The type name of a stored code; throws for a code the protocol does not define. */
const NAMES_BY_CODE: (ValueTypeName | undefined)[] = [];
for (const name of VALUE_TYPE_NAMES) NAMES_BY_CODE[ValueType[name]] = name;

export function typeName(code: number): ValueTypeName {
  const name = NAMES_BY_CODE[code];
  if (name === undefined) throw new ValueCellError(`unknown value type code ${code}`);
  return name;
}

/** The cell for a value. Checks the value against its type at run time (callers may be untyped). */
export function toCell(v: Value): Cell {
  const type: string = v.type;
  const value: unknown = v.value;
  switch (v.type) {
    case 'bool':
      if (typeof value !== 'boolean') refuse(v.type, value);
      return value ? 1n : 0n;
    case 'int8': case 'int16': case 'int32': case 'uint8': case 'uint16': case 'uint32': {
      const range = INT_RANGE[v.type];
      if (typeof value !== 'number' || !Number.isInteger(value) || range === undefined || value < range[0] || value > range[1]) {
        refuse(v.type, value);
      }
      // Bound as bigint so that SQLite keeps an INTEGER (a JS number binds as REAL).
      return BigInt(value);
    }
    case 'int64': case 'timestamp':
      if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) refuse(v.type, value);
      return value;
    case 'uint64':
      if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) refuse(v.type, value);
      return value.toString();
    case 'float32': case 'float64':
      if (typeof value !== 'number') refuse(v.type, value);
      return Number.isNaN(value) ? null : value;
    case 'string':
      // A lone surrogate would not survive the trip through UTF-8.
      if (typeof value !== 'string' || !value.isWellFormed()) refuse(v.type, value);
      return value;
    case 'bytes':
      if (!(value instanceof Uint8Array)) refuse(v.type, value);
      return value;
    case 'geo': {
      if (typeof value !== 'object' || value === null || !('lat' in value) || !('lon' in value)) refuse(v.type, value);
      const { lat, lon } = value;
      if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) {
        refuse(v.type, value);
      }
      return `${floatText(lat)},${floatText(lon)}`;
    }
  }
  // Reached only by an untyped caller with a type the protocol does not define.
  return refuse(type, value);
}

function copyBytes(b: Uint8Array): Uint8Array {
  // A fresh plain Uint8Array, whatever the cell held (better-sqlite3 returns Buffers).
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

function integer(type: string, cell: Cell): bigint {
  if (typeof cell === 'bigint') return cell;
  if (typeof cell === 'number' && Number.isInteger(cell)) return BigInt(cell);
  return refuse(type, cell);
}

/** The value a cell stands for. Throws ValueCellError for a cell that cannot hold that type. */
export function fromCell(type: ValueTypeName, cell: Cell): Value {
  switch (type) {
    case 'bool':
      return { type, value: integer(type, cell) !== 0n };
    case 'int8': case 'int16': case 'int32': case 'uint8': case 'uint16': case 'uint32':
      return { type, value: Number(integer(type, cell)) };
    case 'int64': case 'timestamp':
      return { type, value: integer(type, cell) };
    case 'uint64':
      if (typeof cell !== 'string' || !/^\d+$/.test(cell)) refuse(type, cell);
      return { type, value: BigInt(cell) };
    case 'float32': case 'float64':
      if (cell === null) return { type, value: NaN };
      if (typeof cell !== 'number') refuse(type, cell);
      return { type, value: cell };
    case 'string':
      if (typeof cell !== 'string') refuse(type, cell);
      return { type, value: cell };
    case 'bytes':
      if (!(cell instanceof Uint8Array)) refuse(type, cell);
      return { type, value: copyBytes(cell) };
    case 'geo': {
      const parts = typeof cell === 'string' ? cell.split(',') : [];
      const lat = Number(parts[0]);
      const lon = Number(parts[1]);
      if (parts.length !== 2 || Number.isNaN(lat) || Number.isNaN(lon)) refuse(type, cell);
      return { type, value: { lat, lon } };
    }
  }
}

/**
 * A Value from a separately typed type and value (as StoredReading carries them), checked rather
 * than cast. Throws ValueCellError when they do not match.
 */
export function asValue(type: ValueTypeName, value: Value['value']): Value {
  switch (type) {
    case 'bool':
      if (typeof value !== 'boolean') refuse(type, value);
      return { type, value };
    case 'int8': case 'int16': case 'int32': case 'uint8': case 'uint16': case 'uint32':
    case 'float32': case 'float64':
      if (typeof value !== 'number') refuse(type, value);
      return { type, value };
    case 'int64': case 'uint64': case 'timestamp':
      if (typeof value !== 'bigint') refuse(type, value);
      return { type, value };
    case 'string':
      if (typeof value !== 'string') refuse(type, value);
      return { type, value };
    case 'bytes':
      if (!(value instanceof Uint8Array)) refuse(type, value);
      return { type, value };
    case 'geo':
      if (typeof value !== 'object' || value instanceof Uint8Array) refuse(type, value);
      return { type, value };
  }
}

// The JSON form of messages and values, used by the test vectors, `--json` output and jsonl
// exports. JSON has no 64-bit integers and no byte strings, so: int64, uint64 and timestamp
// values are decimal strings; bytes values and tags are lowercase hex strings. Everything else
// is as in the Message type.
import type { Message, Reading, Value } from './types.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new TypeError(`not a hex string: ${hex.slice(0, 40)}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The JSON form of a value (the `value` field alone). */
export function valueToJson(v: Value): Json {
  switch (v.type) {
    case 'int64': case 'uint64': case 'timestamp': return v.value.toString();
    case 'bytes': return toHex(v.value);
    case 'geo': return { lat: v.value.lat, lon: v.value.lon };
    case 'float32': case 'float64': return floatToJson(v.value);
    default: return v.value;
  }
}

/** JSON numbers cannot hold -0, infinities or NaN: those become the strings "-0", "Infinity", "-Infinity", "NaN". */
function floatToJson(x: number): Json {
  return Number.isFinite(x) && !Object.is(x, -0) ? x : Object.is(x, -0) ? '-0' : String(x);
}

function floatFromJson(j: unknown): number {
  return typeof j === 'string' ? (j === '-0' ? -0 : Number(j)) : (j as number);
}

function valueFromJson(type: Value['type'], j: unknown): Value {
  switch (type) {
    case 'int64': case 'uint64': case 'timestamp': return { type, value: BigInt(String(j)) };
    case 'bytes': return { type, value: fromHex(String(j)) };
    case 'geo': {
      const g = j as { lat: number; lon: number };
      return { type, value: { lat: g.lat, lon: g.lon } };
    }
    case 'bool': return { type, value: j as boolean };
    case 'string': return { type, value: j as string };
    case 'float32': case 'float64': return { type, value: floatFromJson(j) };
    default: return { type, value: j as number };
  }
}

export function messageToJson(m: Message): Json {
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(m)) {
    if (value === undefined) continue;
    if (key === 'tag') out[key] = toHex(value as Uint8Array);
    else if (key === 'readings') {
      out[key] = (value as Reading[]).map((r) => ({ sensor: r.sensor, delta: r.delta, type: r.type, value: valueToJson(r) }));
    } else out[key] = value as Json;
  }
  return out;
}

/**
 * The message a JSON form stands for. It trusts the shape (it is for vectors and fixtures, not
 * for input from the network); encode() validates every field.
 */
export function messageFromJson(j: Json): Message {
  const src = j as { [key: string]: unknown };
  const out: { [key: string]: unknown } = { ...src };
  if (typeof src.tag === 'string') out.tag = fromHex(src.tag);
  if (Array.isArray(src.readings)) {
    out.readings = (src.readings as { sensor: number; delta: number; type: Value['type']; value: unknown }[]).map(
      (r) => ({ sensor: r.sensor, delta: r.delta, ...valueFromJson(r.type, r.value) }),
    );
  }
  return out as unknown as Message;
}

// The struct helper against Python's own struct module: the same format and values must give the
// same bytes, the same bytes must unpack to the same values, and the same formats must have the
// same size (or both be refused). Cases are hand-picked edges plus generated ones; python3 runs
// once for the whole file.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { command, requireAll } from '../support/requires.ts';
import { FIXTURES } from './support/proc.ts';
import { StructError, calcsize, pack, unpack, unpackFrom } from '../../examples/lib/struct.ts';
import type { StructInput, StructValue } from '../../examples/lib/struct.ts';

requireAll(command('python3'));

// ---- Cases ---------------------------------------------------------------------------------------

type Tagged = { int: string } | { float: string } | { bool: boolean } | { bytes: string };
interface PackCase {
  format: string;
  values: StructInput[];
}

const ORDERS = ['', '@', '=', '<', '>', '!'] as const;
const CODES = ['x', '?', 'b', 'B', 'h', 'H', 'i', 'I', 'l', 'L', 'q', 'Q', 'e', 'f', 'd', 's'] as const;
type Code = (typeof CODES)[number];
interface Item {
  code: Code;
  count: number | null;
  space: string;
}

const isNative = (order: string): boolean => order === '' || order === '@';
/** Integer size in bytes, from the Python documentation's tables (LP64 for native longs). */
function intSize(code: Code, native: boolean): number {
  return { b: 1, B: 1, h: 2, H: 2, i: 4, I: 4, l: native ? 8 : 4, L: native ? 8 : 4, q: 8, Q: 8 }[code as 'b'] ?? 0;
}
/** What JavaScript type unpack() must return for a code. */
function jsType(code: Code, native: boolean): string {
  if (code === '?') return 'boolean';
  if (code === 's') return 'object';
  if (code === 'q' || code === 'Q' || (native && (code === 'l' || code === 'L'))) return 'bigint';
  return 'number';
}

function intArb(code: Code, native: boolean): fc.Arbitrary<StructInput> {
  const bits = BigInt(intSize(code, native) * 8);
  const signed = code === code.toLowerCase();
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  const asJs = (n: bigint): StructInput => (bits === 64n ? n : Number(n));
  return fc
    .oneof(
      { weight: 8, arbitrary: fc.bigInt({ min, max }) },
      { weight: 2, arbitrary: fc.constantFrom(min, max, 0n) },
      { weight: 1, arbitrary: fc.constantFrom(min - 1n, max + 1n) }, // Python refuses these
    )
    .map(asJs);
}

function valueArb(code: Code, count: number, native: boolean): fc.Arbitrary<StructInput> {
  switch (code) {
    case '?':
      return fc.boolean();
    case 's':
      return fc.uint8Array({ maxLength: count + 2 }); // shorter (padded), exact, longer (cut)
    case 'd':
      return fc.double();
    case 'f':
      return fc.oneof(fc.double(), fc.float(), fc.double({ min: 3.4e38, max: 3.41e38 }), fc.double({ min: -1e-44, max: 1e-44 }));
    case 'e':
      return fc.oneof(fc.double({ min: -70000, max: 70000 }), fc.double({ min: -1e-4, max: 1e-4 }), fc.integer({ min: -4096, max: 4096 }));
    default:
      return intArb(code, native);
  }
}

const itemArb: fc.Arbitrary<Item> = fc.record({
  code: fc.constantFrom(...CODES),
  count: fc.option(fc.integer({ min: 0, max: 4 }), { freq: 3 }),
  space: fc.constantFrom('', '', '', ' ', '\t', '\n '),
});

function formatOf(order: string, items: readonly Item[]): string {
  return order + items.map((i) => `${i.space}${i.count ?? ''}${i.code}`).join('');
}

/** The values a format takes: none for x, one string for Ns, N numbers for Nc. */
function packCaseArb(): fc.Arbitrary<PackCase> {
  return fc
    .tuple(fc.constantFrom(...ORDERS), fc.array(itemArb, { minLength: 1, maxLength: 6 }))
    .chain(([order, items]) => {
      const native = isNative(order);
      const parts = items.map((item) => {
        if (item.code === 'x') return fc.constant([] as StructInput[]);
        if (item.code === 's') return valueArb('s', item.count ?? 1, native).map((v) => [v]);
        return fc.array(valueArb(item.code, 1, native), { minLength: item.count ?? 1, maxLength: item.count ?? 1 });
      });
      return fc.tuple(...parts).map((lists) => ({ format: formatOf(order, items), values: lists.flat() }));
    });
}

/** Formats without '?' in native mode: CPython reads a native _Bool byte other than 0/1 unreliably. */
function unpackFormatArb(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...ORDERS), fc.array(itemArb, { minLength: 1, maxLength: 6 }))
    .filter(([order, items]) => !(isNative(order) && items.some((i) => i.code === '?')))
    .map(([order, items]) => formatOf(order, items));
}

const SEED = 20240611;
const bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const EDGE_PACK: PackCase[] = [
  { format: '=iif', values: [1, 4, 2.7] },
  { format: '@bi', values: [1, 2] },
  { format: '@b0l', values: [-1] },
  { format: '<b0l', values: [-1] },
  { format: '@?q', values: [true, -2n] },
  { format: '@hx3sq', values: [-2, bytes('ab'), 1n << 62n] },
  { format: '@ 2h  i', values: [1, 2, 3] },
  { format: '< i\ti\nf', values: [7, -7, 0.1] },
  { format: '!hHiIqQ', values: [-1, 65535, -1, 4294967295, -1n, (1n << 64n) - 1n] },
  { format: '@lL', values: [-(1n << 63n), (1n << 64n) - 1n] },
  { format: '<lL', values: [-(2 ** 31), 2 ** 32 - 1] },
  { format: '<L', values: [2 ** 32] },
  { format: '<b', values: [128] },
  { format: '<B', values: [-1] },
  { format: '<q', values: [1n << 63n] },
  { format: '<i', values: [1.5] },
  { format: '4s', values: [bytes('ab')] },
  { format: '2s', values: [bytes('abcd')] },
  { format: '0s', values: [bytes('abc')] },
  { format: '<ii', values: [1] },
  { format: '<i', values: [1, 2] },
  ...[
    65504, 65519.99, 65520, 2 ** -24, 2 ** -25, 2 ** -25 * 1.5, 6.103515625e-5, 6.097555160522461e-5, 2049, 2051, 1e-10,
    0.1, -0, NaN, Infinity, -Infinity, -65504, 1 / 3,
  ].map((x) => ({ format: '<e', values: [x] })),
  ...[3.4028234663852886e38, 3.4028235677973366e38, 3.4028235e38 * 1.00000001, 3.5e38, 1e-46, 1.401298464324817e-45, -0, NaN, -Infinity].map(
    (x) => ({ format: '>f', values: [x] }),
  ),
  ...[Number.MIN_VALUE, Number.MAX_VALUE, -0, NaN, Infinity, Math.PI].map((x) => ({ format: '!d', values: [x] })),
];
const EDGE_CALCSIZE = ['', '@', '3 i', 'i3', 'y', '@b0q', '<b0q', '10s', '@bhbibqbd', '=bhbibqbd', '@e?e', ' 2x 2h ', '4x', '@s?d', '9999i'];

const packCases = [...EDGE_PACK, ...fc.sample(packCaseArb(), { seed: SEED, numRuns: 600 })];
const unpackCases = fc.sample(unpackFormatArb(), { seed: SEED + 1, numRuns: 300 }).map((format, n) => {
  // Pseudo-random bytes of the right length (per Python: a wrong calcsize shows up as an error).
  const size = calcsize(format);
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (n * 131 + i * 197 + ((i * i) >> 1)) & 0xff;
  return { format, hex: data.toString('hex') };
});
const calcsizeFormats = [...EDGE_CALCSIZE, ...packCases.map((c) => c.format)];

// ---- Python's answers ----------------------------------------------------------------------------

function tag(value: StructInput): Tagged {
  if (typeof value === 'boolean') return { bool: value };
  if (typeof value === 'bigint') return { int: String(value) };
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  if (Number.isInteger(value) && !Object.is(value, -0)) return { int: String(value) };
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return { float: b.toString('hex') };
}

type Answer<T> = T | { error: string; message: string };
interface PythonAnswers {
  pack: Answer<{ hex: string; values: Tagged[] }>[];
  unpack: Answer<{ values: Tagged[] }>[];
  calcsize: Answer<{ size: number }>[];
}

let python: PythonAnswers;

before(() => {
  // Integers for float codes go to Python as floats: struct treats 2 and 2.0 alike for e/f/d,
  // but refuses floats for integer codes, which is what the 1.5 case checks.
  const floatCodes = (format: string): boolean[] => fieldCodes(format).map((c) => 'efd'.includes(c));
  const input = {
    pack: packCases.map((c) => {
      const floats = floatCodes(c.format);
      return {
        format: c.format,
        values: c.values.map((v, i) => (floats[i] && typeof v === 'number' ? floatTag(v) : tag(v))),
      };
    }),
    unpack: unpackCases,
    calcsize: calcsizeFormats,
  };
  const out = execFileSync('python3', [`${FIXTURES}struct_cases.py`], { input: JSON.stringify(input), timeout: 60_000, maxBuffer: 64 << 20 });
  python = JSON.parse(out.toString()) as PythonAnswers;
});

function floatTag(x: number): Tagged {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return { float: b.toString('hex') };
}

/** The code of each value-carrying field of a (valid) format, in order, for the type checks. */
function fieldCodes(format: string): string[] {
  const body = /^[@=<>!]/.test(format) ? format.slice(1) : format;
  const codes: string[] = [];
  for (const [, count, code] of body.matchAll(/(\d*)([^\s\d])/g)) {
    if (code === 'x') continue;
    const n = code === 's' ? 1 : count === '' ? 1 : Number(count);
    for (let i = 0; i < n; i++) codes.push(code ?? '');
  }
  return codes;
}

function sameValue(py: Tagged, ts: StructValue | undefined): boolean {
  if ('int' in py) return (typeof ts === 'number' || typeof ts === 'bigint') && String(ts) === py.int;
  if ('float' in py) return typeof ts === 'number' && Object.is(ts, Buffer.from(py.float, 'hex').readDoubleBE(0));
  if ('bool' in py) return ts === py.bool;
  return Buffer.isBuffer(ts) && ts.toString('hex') === py.bytes;
}

function attempt<T>(fn: () => T): T | 'error' {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StructError) return 'error';
    throw err;
  }
}

// ---- Tests ---------------------------------------------------------------------------------------

test('pack gives the bytes Python gives, and refuses what Python refuses', () => {
  assert.equal(python.pack.length, packCases.length);
  let packed = 0;
  packCases.forEach((c, i) => {
    const expected = python.pack[i];
    const ours = attempt(() => pack(c.format, ...c.values).toString('hex'));
    const label = `pack(${JSON.stringify(c.format)}, ${c.values.map((v) => JSON.stringify(tag(v))).join(', ')})`;
    if (expected && 'hex' in expected) {
      assert.equal(ours, expected.hex, label);
      packed++;
    } else {
      assert.equal(ours, 'error', `${label}: Python says ${expected?.message}`);
    }
  });
  assert.ok(packed > packCases.length / 2, `most cases pack (${packed} of ${packCases.length})`);
});

test('pack then unpack round-trips, with the types the format promises', () => {
  packCases.forEach((c, i) => {
    const expected = python.pack[i];
    if (!expected || !('hex' in expected)) return;
    const native = !/^[=<>!]/.test(c.format);
    const values = unpack(c.format, pack(c.format, ...c.values));
    const codes = fieldCodes(c.format);
    assert.equal(values.length, c.values.length, c.format);
    values.forEach((v, k) => {
      assert.equal(typeof v, jsType(codes[k] as Code, native), `${c.format} value ${k}`);
      const sent = c.values[k];
      if (typeof v === 'number' && typeof sent === 'number') {
        // floats come back rounded to the width of their code; integers exactly
        const code = codes[k];
        const width = code === 'e' ? 'half' : code === 'f' ? 'float' : 'exact';
        if (width === 'exact') assert.ok(Object.is(v, sent), `${c.format}: ${v} vs ${sent}`);
        if (width === 'float') assert.ok(Object.is(v, Math.fround(sent)), `${c.format}: ${v} vs ${sent}`);
      } else if (Buffer.isBuffer(v) && sent instanceof Uint8Array) {
        const want = Buffer.alloc(v.length);
        want.set(sent.subarray(0, v.length));
        assert.deepEqual(v, want);
      } else {
        assert.equal(v, sent, `${c.format} value ${k}`);
      }
    });
  });
});

test('unpack gives the values Python gives, for the bytes Python packed and for arbitrary bytes', () => {
  packCases.forEach((c, i) => {
    const expected = python.pack[i];
    if (!expected || !('hex' in expected)) return;
    // Python's unpack of its own bytes is the round trip through Python; ours must agree.
    const ours = unpack(c.format, Buffer.from(expected.hex, 'hex'));
    assert.equal(ours.length, expected.values.length, c.format);
    expected.values.forEach((py, k) => {
      assert.ok(sameValue(py, ours[k]), `unpack(${JSON.stringify(c.format)}, ${expected.hex}) value ${k}: Python ${JSON.stringify(py)}, ours ${String(ours[k])}`);
    });
  });
  assert.equal(python.unpack.length, unpackCases.length);
  unpackCases.forEach((c, i) => {
    const expected = python.unpack[i];
    assert.ok(expected && 'values' in expected, `Python could not unpack ${JSON.stringify(c)}: ${JSON.stringify(expected)}`);
    const native = !/^[=<>!]/.test(c.format);
    const ours = unpack(c.format, Buffer.from(c.hex, 'hex'));
    const codes = fieldCodes(c.format);
    assert.equal(ours.length, expected.values.length, c.format);
    expected.values.forEach((py, k) => {
      assert.ok(sameValue(py, ours[k]), `unpack(${JSON.stringify(c.format)}, ${c.hex}) value ${k}: Python ${JSON.stringify(py)}, ours ${String(ours[k])}`);
      assert.equal(typeof ours[k], jsType(codes[k] as Code, native));
    });
  });
});

test('calcsize agrees with Python, native alignment and refused formats included', () => {
  calcsizeFormats.forEach((format, i) => {
    const expected = python.calcsize[i];
    const ours = attempt(() => calcsize(format));
    if (expected && 'size' in expected) assert.equal(ours, expected.size, JSON.stringify(format));
    else assert.equal(ours, 'error', `${JSON.stringify(format)}: Python says ${expected?.message}`);
  });
  // spot checks that would catch Python and us being wrong the same way
  assert.equal(calcsize('=iif'), 12);
  assert.equal(calcsize('@bi'), 8);
  assert.equal(calcsize('@b0l'), 8);
  assert.equal(calcsize('<b0l'), 1);
});

test('the lab\'s "=iif" record, byte for byte, and typed as a tuple', () => {
  const data = pack('=iif', 1, 4, 2.7);
  assert.equal(data.toString('hex'), '0100000004000000cdcc2c40');
  const [a, b, c]: [number, number, number] = unpack('=iif', data);
  assert.deepEqual([a, b, c], [1, 4, Math.fround(2.7)]);
  const typed: [bigint, boolean, Buffer, number] = unpack('<q?2si', pack('<q?2si', -5n, true, bytes('hi'), 7));
  assert.deepEqual(typed, [-5n, true, Buffer.from('hi'), 7]);
  const [first]: [number] = unpackFrom('>H', Buffer.from([0, 0, 0x12, 0x34]), 2);
  assert.equal(first, 0x1234);
  // @ts-expect-error -- 'q' takes a bigint, not a number
  assert.throws(() => pack('<q', 1.5), StructError);
  // @ts-expect-error -- "=iif" takes three values
  assert.throws(() => pack('=iif', 1, 4), /pack expected 3 items for packing \(got 2\)/);
});

test('codes Python has but the helper leaves out are refused clearly, and wrong sizes too', () => {
  for (const code of ['c', 'p', 'n', 'N', 'P']) {
    assert.throws(() => calcsize(`<${code}`), new RegExp(`bad char in struct format: '${code}'`));
  }
  assert.throws(() => unpack('=iif', Buffer.alloc(11)), /unpack requires a buffer of 12 bytes/);
  assert.throws(() => unpackFrom('<i', Buffer.alloc(5), 2), /unpack_from requires a buffer of at least 6 bytes/);
  assert.throws(() => pack('<?', 1 as unknown as boolean), StructError);
  assert.throws(() => pack('<4s', 'text' as unknown as Uint8Array), /must be a bytes object/);
});

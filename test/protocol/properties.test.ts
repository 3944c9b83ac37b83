import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError, StreamDecoder, decode, encode, encodeFrame, fromHex, type Message } from '../../src/protocol/index.ts';
import { writeMessage } from '../../src/protocol/encode.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { validVectors } from '../vectors/index.ts';
import { message } from './arbitraries.ts';

/** Decodes, and asserts that the only way to fail is a ProtocolError. */
function decodeOrProtocolError(bytes: Uint8Array, maxMessageSize?: number): Message | ProtocolError {
  try {
    return decode(bytes, maxMessageSize === undefined ? undefined : { maxMessageSize });
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
}

function hasNaN(m: Message): boolean {
  return m.type === 'READINGS' && m.readings.some((r) => typeof r.value === 'number' && Number.isNaN(r.value));
}

const vectorBytes = validVectors.map((v) => fromHex(v.hex));

const mutation = fc.oneof(
  // flip one bit
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  // overwrite one byte
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  // cut the end off
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  // insert bytes
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
);

type Mutation = { kind: string; at: number; bit?: number; byte?: number; bytes?: Uint8Array };

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = bytes.slice();
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip' && out.length > 0) out[at] = out[at]! ^ (1 << m.bit!);
    else if (m.kind === 'set' && out.length > 0) out[at] = m.byte!;
    else if (m.kind === 'cut') out = out.slice(0, at);
    else if (m.kind === 'insert') out = new Uint8Array([...out.subarray(0, at), ...m.bytes!, ...out.subarray(at)]);
  }
  return out;
}

describe('properties', () => {
  it('encode then decode is the identity for any valid message', () => {
    fc.assert(
      fc.property(message, (m) => {
        assert.deepEqual(decode(encode(m)), m);
      }),
      { numRuns: 20_000 },
    );
  });

  it('a writer that starts at one byte and grows on every field writes the same bytes', () => {
    fc.assert(
      fc.property(message, (m) => {
        const w = new Writer(1);
        writeMessage(w, m);
        assert.deepEqual(w.finish(), encode(m));
      }),
      { numRuns: 5_000 },
    );
  });

  it('any bytes decode to a message or a ProtocolError, and a message re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const result = decodeOrProtocolError(bytes);
        if (!(result instanceof ProtocolError) && !hasNaN(result)) assert.deepEqual(encode(result), bytes);
      }),
      { numRuns: 50_000 },
    );
  });

  it('bytes that start like a message decode to a message or a ProtocolError', () => {
    const plausible = fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 80 }))
      .map(([type, flags, rest]) => new Uint8Array([0x10 | type, flags, ...rest]));
    fc.assert(
      fc.property(plausible, (bytes) => {
        const result = decodeOrProtocolError(bytes);
        if (!(result instanceof ProtocolError) && !hasNaN(result)) assert.deepEqual(encode(result), bytes);
      }),
      { numRuns: 50_000 },
    );
  });

  it('mutated vectors decode to a message or a ProtocolError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...vectorBytes), fc.array(mutation, { minLength: 1, maxLength: 4 }), (bytes, mutations) => {
        const mutated = mutate(bytes, mutations);
        const result = decodeOrProtocolError(mutated, mutated.length % 2 === 0 ? 1200 : undefined);
        if (!(result instanceof ProtocolError) && !hasNaN(result)) assert.deepEqual(encode(result), mutated);
      }),
      { numRuns: 50_000 },
    );
  });

  it('the stream decoder returns the same messages however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }), (msgs, cuts) => {
        const frames = msgs.map((m) => encodeFrame(m));
        const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const f of frames) {
          stream.set(f, at);
          at += f.length;
        }
        const d = new StreamDecoder();
        const out: Message[] = [];
        let i = 0;
        for (let pos = 0; pos < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          for (const f of d.write(stream.subarray(pos, pos + n))) {
            assert.ok(f.ok);
            out.push(f.message);
          }
          pos += n;
        }
        assert.deepEqual(out, msgs);
        assert.equal(d.buffered, 0);
      }),
      { numRuns: 3_000 },
    );
  });

  it('any byte stream gives frames or a ProtocolError, never holding more than a frame', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 30 }), { maxLength: 10 }), (chunks) => {
        const d = new StreamDecoder({ maxMessageSize: 64 });
        for (const chunk of chunks) {
          if (d.error) {
            assert.throws(() => d.write(chunk), ProtocolError);
            continue;
          }
          for (const f of d.write(chunk)) if (!f.ok) assert.ok(f.error instanceof ProtocolError);
          assert.ok(d.buffered <= 64 + 5);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});

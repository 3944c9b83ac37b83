// Every limit of PROTOCOL.md §10, hit on the decoding and the encoding side: the value at the
// limit passes, one past it is refused with the code the spec names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Limits, ProtocolError, StreamDecoder, decode, encode, encodeFrame,
  type ErrorCodeName, type Message, type Reading, type SensorSpec,
} from '../../src/protocol/index.ts';

function refuses(code: ErrorCodeName, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof ProtocolError && e.code === code);
}

const base = { deviceId: 1, seq: 1 } as const;

/** A READINGS of bytes values whose encoding is exactly `size` bytes (header 4 + base time 6). */
function readingsOfSize(size: number): Message {
  const full = (n: number): Reading => ({ sensor: 1, delta: 0, type: 'bytes', value: new Uint8Array(n) });
  const countLength = (n: number): number => (n < 128 ? 1 : 2);
  // k readings of 255 bytes (260 on the wire each) and one filler of 4…260 bytes on the wire.
  for (let k = Math.floor(size / 260); k >= 0; k--) {
    const rest = size - 10 - countLength(k + 1) - 260 * k;
    const filler = rest >= 4 && rest <= 131 ? rest - 4 : rest >= 133 && rest <= 260 ? rest - 5 : undefined;
    if (filler === undefined) continue;
    const message: Message = { type: 'READINGS', ...base, baseTime: 0, readings: [...Array.from({ length: k }, () => full(255)), full(filler)] };
    assert.equal(encode(message, { maxMessageSize: Infinity }).length, size);
    return message;
  }
  throw new Error(`cannot build a READINGS of ${size} bytes`);
}

const sensor = (id: number): SensorSpec => ({ id, type: 'float32', delivery: 'latest', unit: '', name: '' });
const hello = (sensors: SensorSpec[]): Message => ({
  type: 'HELLO', ...base, session: 1, resumeSeq: 1, intervalMs: 1000, model: '', firmware: '', sensors,
});
const ids = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('limits', () => {
  for (const [name, limit, options] of [
    ['TCP message', Limits.MAX_TCP_MESSAGE, undefined],
    ['UDP message', Limits.MAX_UDP_MESSAGE, { maxMessageSize: Limits.MAX_UDP_MESSAGE }],
  ] as const) {
    it(`${name}: ${limit} bytes pass, ${limit + 1} are MESSAGE_TOO_LARGE`, () => {
      const atLimit = readingsOfSize(limit);
      const bytes = encode(atLimit, options);
      assert.equal(bytes.length, limit);
      assert.deepEqual(decode(bytes, options), atLimit);
      const over = readingsOfSize(limit + 1);
      refuses('MESSAGE_TOO_LARGE', () => encode(over, options));
      refuses('MESSAGE_TOO_LARGE', () => decode(encode(over, { maxMessageSize: Infinity }), options));
    });
  }

  it('TCP frame: a 16384-byte frame passes the stream decoder, a 16385-byte prefix is refused before its body', () => {
    const frame = encodeFrame(readingsOfSize(Limits.MAX_TCP_MESSAGE));
    const d = new StreamDecoder();
    const frames = d.write(frame);
    assert.equal(frames.length, 1);
    assert.ok(frames[0]?.ok);
    const big = encodeFrame(readingsOfSize(Limits.MAX_TCP_MESSAGE + 1), { maxMessageSize: Infinity });
    const d2 = new StreamDecoder();
    // Only the prefix is sent: the refusal comes before any body byte arrives.
    const [bad] = d2.write(big.subarray(0, 3));
    assert.ok(bad && !bad.ok && bad.error.code === 'MESSAGE_TOO_LARGE');
    assert.equal(d2.buffered, 0);
  });

  it('stream decoder: holds at most one frame and its prefix however the bytes arrive', () => {
    const frame = encodeFrame(readingsOfSize(Limits.MAX_TCP_MESSAGE));
    const d = new StreamDecoder();
    let peak = 0;
    for (let at = 0; at < frame.length; at += 97) {
      d.write(frame.subarray(at, at + 97));
      peak = Math.max(peak, d.buffered);
    }
    assert.ok(peak <= Limits.MAX_TCP_MESSAGE + Limits.MAX_VARINT_BYTES, `peak ${peak}`);
    assert.equal(d.buffered, 0);
  });

  it('varint: 2^32-1 passes, 2^32 and fractions are BAD_VARINT when encoding', () => {
    assert.equal(decode(encode({ type: 'PING', deviceId: Limits.MAX_VARINT, seq: Limits.MAX_VARINT })).seq, Limits.MAX_VARINT);
    refuses('BAD_VARINT', () => encode({ type: 'PING', deviceId: 2 ** 32, seq: 1 }));
    refuses('BAD_VARINT', () => encode({ type: 'PING', deviceId: 1, seq: 1.5 }));
    refuses('BAD_VARINT', () => encode({ type: 'PING', deviceId: -1, seq: 1 }));
  });

  it('string and bytes: 255 bytes pass, 256 are STRING_TOO_LONG', () => {
    const at = (value: string): Message => ({ type: 'ERROR', ...base, code: 1, refSeq: 0, text: value });
    assert.equal((decode(encode(at('é'.repeat(127) + 'a'))) as { text: string }).text.length, 128);
    refuses('STRING_TOO_LONG', () => encode(at('é'.repeat(128))));
    const bytes = (n: number): Message => ({ type: 'READINGS', ...base, baseTime: 0, readings: [{ sensor: 1, delta: 0, type: 'bytes', value: new Uint8Array(n) }] });
    assert.ok(decode(encode(bytes(255))));
    refuses('STRING_TOO_LONG', () => encode(bytes(256)));
    // Decoding a 256-byte bytes value.
    const raw = encode(bytes(255));
    const grown = new Uint8Array([...raw.subarray(0, 14), 0x80, 0x02, ...new Uint8Array(256)]);
    refuses('STRING_TOO_LONG', () => decode(grown));
  });

  it('lone surrogates cannot be encoded as UTF-8', () => {
    refuses('BAD_UTF8', () => encode({ type: 'ERROR', ...base, code: 1, refSeq: 0, text: 'a\ud800' }));
  });

  it('readings: 255 pass, 0 and 256 are BAD_COUNT', () => {
    const batch = (n: number): Message => ({
      type: 'READINGS', ...base, baseTime: 0, readings: Array.from({ length: n }, (): Reading => ({ sensor: 1, delta: 0, type: 'bool', value: true })),
    });
    const decoded = decode(encode(batch(255)));
    assert.ok(decoded.type === 'READINGS' && decoded.readings.length === 255);
    refuses('BAD_COUNT', () => encode(batch(256)));
    refuses('BAD_COUNT', () => encode(batch(0)));
    const raw = encode(batch(255));
    // Count byte patched from ff 01 (255) to 80 02 (256): refused at the count, before any reading.
    const patched = raw.slice();
    patched[10] = 0x80;
    patched[11] = 0x02;
    refuses('BAD_COUNT', () => decode(patched));
  });

  it('sensors: 64 pass, 0 and 65 are BAD_COUNT, a repeated id is BAD_SENSOR', () => {
    const decoded = decode(encode(hello(ids(64).map(sensor))));
    assert.ok(decoded.type === 'HELLO' && decoded.sensors.length === 64);
    refuses('BAD_COUNT', () => encode(hello(ids(65).map(sensor))));
    refuses('BAD_COUNT', () => encode(hello([])));
    refuses('BAD_SENSOR', () => encode(hello([sensor(3), sensor(3)])));
    const raw = encode(hello(ids(64).map(sensor)));
    const patched = raw.slice();
    const countAt = raw.indexOf(64, 10);
    patched[countAt] = 65;
    refuses('BAD_COUNT', () => decode(patched));
  });

  it('CONFIG lists: 64 ids pass, 65 are BAD_COUNT, an id in both lists is BAD_SENSOR', () => {
    const config = (enable: number[], disable: number[]): Message => ({ type: 'CONFIG', ...base, configId: 1, intervalMs: 0, enable, disable });
    assert.deepEqual(decode(encode(config(ids(64), ids(64, 64)))), config(ids(64), ids(64, 64)));
    refuses('BAD_COUNT', () => encode(config(ids(65), [])));
    refuses('BAD_SENSOR', () => encode(config([1], [1])));
    const raw = encode(config(ids(64), []));
    const patched = raw.slice();
    patched[6] = 65;
    refuses('BAD_COUNT', () => decode(patched));
  });

  it('sack ranges: 8 pass, 9 are BAD_SACK, a range touching the previous one is BAD_SACK', () => {
    const sack = (n: number) => Array.from({ length: n }, (_, i) => ({ first: 10 + i * 3, last: 10 + i * 3 }));
    const ack = (ranges: { first: number; last: number }[]): Message => ({
      type: 'ACK', ...base, status: 'OK', ackSeq: 8, rxTime: 0, holdUs: 0, rudp: { epoch: 1, window: 8, sack: ranges },
    });
    assert.deepEqual(decode(encode(ack(sack(8)))), ack(sack(8)));
    refuses('BAD_SACK', () => encode(ack(sack(9))));
    refuses('BAD_SACK', () => encode(ack([{ first: 9, last: 9 }])));
    refuses('BAD_SACK', () => encode(ack([{ first: 10, last: 2 ** 32 }])));
  });

  it('geo: ±90/±180 pass, beyond is BAD_VALUE', () => {
    const at = (lat: number, lon: number): Message => ({ type: 'READINGS', ...base, baseTime: 0, readings: [{ sensor: 1, delta: 0, type: 'geo', value: { lat, lon } }] });
    assert.deepEqual(decode(encode(at(-90, 180))), at(-90, 180));
    refuses('BAD_VALUE', () => encode(at(90.0000001, 0)));
    refuses('BAD_VALUE', () => encode(at(0, -180.0000001)));
    refuses('BAD_VALUE', () => encode(at(Number.NaN, 0)));
  });

  it('times: a u48 of ms passes, 2^48 is BAD_VALUE', () => {
    const at = (baseTime: number): Message => ({ type: 'READINGS', ...base, baseTime, readings: [{ sensor: 1, delta: 0, type: 'bool', value: false }] });
    assert.equal((decode(encode(at(Limits.MAX_TIME48))) as { baseTime: number }).baseTime, Limits.MAX_TIME48);
    refuses('BAD_VALUE', () => encode(at(2 ** 48)));
  });

  it('integer values out of their type are BAD_VALUE when encoding', () => {
    const one = (r: Reading): Message => ({ type: 'READINGS', ...base, baseTime: 0, readings: [r] });
    refuses('BAD_VALUE', () => encode(one({ sensor: 1, delta: 0, type: 'int8', value: 128 })));
    refuses('BAD_VALUE', () => encode(one({ sensor: 1, delta: 0, type: 'uint16', value: -1 })));
    refuses('BAD_VALUE', () => encode(one({ sensor: 1, delta: 0, type: 'uint32', value: 1.5 })));
    refuses('BAD_VALUE', () => encode(one({ sensor: 1, delta: 0, type: 'uint64', value: -1n })));
    refuses('BAD_VALUE', () => encode(one({ sensor: 1, delta: 0, type: 'int64', value: 2n ** 63n })));
    refuses('BAD_VALUE', () => encode(one({ sensor: 256, delta: 0, type: 'bool', value: true })));
  });
});

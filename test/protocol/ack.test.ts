// The server's plain-ACK writer (src/protocol/ack.ts) against the encoder: byte for byte the same,
// at the limits of every field, at any offset of a buffer holding other bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Limits, encode, type AckStatusName } from '../../src/protocol/index.ts';
import { MAX_PLAIN_ACK, writePlainAck } from '../../src/protocol/ack.ts';

interface Fields {
  deviceId: number; seq: number; status: AckStatusName; ackSeq: number; rxTime: number; holdUs: number;
}

function written(f: Fields, at = 0, fill = 0xa5): Uint8Array {
  const out = new Uint8Array(at + MAX_PLAIN_ACK + 3).fill(fill);
  const end = writePlainAck(out, at, f.deviceId, f.seq, f.status, f.ackSeq, f.rxTime, f.holdUs);
  assert.ok(end - at <= MAX_PLAIN_ACK);
  // Nothing before or after the message was touched.
  assert.ok(out.subarray(0, at).every((b) => b === fill));
  assert.ok(out.subarray(end).every((b) => b === fill));
  return out.subarray(at, end);
}

const encoded = (f: Fields): Uint8Array => encode({ type: 'ACK', ...f });

const varint = fc.oneof(fc.integer({ min: 0, max: Limits.MAX_VARINT }), fc.constantFrom(0, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, Limits.MAX_VARINT));
const fields = fc.record({
  deviceId: varint,
  seq: varint,
  status: fc.constantFrom<AckStatusName>('OK', 'DUPLICATE', 'RESYNC'),
  ackSeq: varint,
  rxTime: fc.oneof(fc.integer({ min: 0, max: Limits.MAX_TIME48 }), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Date.now(), Limits.MAX_TIME48)),
  holdUs: varint,
});

describe('writePlainAck', () => {
  it('writes what encode() gives for the same ACK', () => {
    fc.assert(fc.property(fields, fc.nat(64), (f, at) => assert.deepEqual(written(f, at), encoded(f))), { numRuns: 2000 });
  });

  it('at the limits of every field', () => {
    const top: Fields = { deviceId: Limits.MAX_VARINT, seq: Limits.MAX_VARINT, status: 'RESYNC', ackSeq: Limits.MAX_VARINT, rxTime: Limits.MAX_TIME48, holdUs: Limits.MAX_VARINT };
    const bottom: Fields = { deviceId: 0, seq: 0, status: 'OK', ackSeq: 0, rxTime: 0, holdUs: 0 };
    assert.deepEqual(written(top), encoded(top));
    assert.equal(written(top).length, MAX_PLAIN_ACK);
    assert.deepEqual(written(bottom, 5, 0xff), encoded(bottom));
  });
});

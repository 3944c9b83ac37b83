// The overhead model against the codec and header sizes, and the options of the command (pure).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { layerTotal } from '../../src/analysis/overhead-counts.ts';
import { DEFAULT_TCP_HEADERS, headerSize, modelLoss, modelRun, reliableShare, varintSize } from '../../src/experiment/model.ts';
import { EXPERIMENT_DEFAULTS, parseExperimentOptions } from '../../src/experiment/options.ts';
import { encode, encodeFrame } from '../../src/protocol/index.ts';
import type { Reading } from '../../src/protocol/types.ts';
import { spec, VALUE_BYTES } from './synthetic.ts';

const floats = (n: number): Reading[] => Array.from({ length: n }, (_, i) => ({ sensor: (i % 9) + 1, delta: 0, type: 'float32' as const, value: 21.5 }));

describe('overhead model', () => {
  test('varint and header sizes follow PROTOCOL.md §1 and §3', () => {
    assert.deepEqual([0, 1, 127, 128, 16383, 16384, 0xffff_ffff].map(varintSize), [1, 1, 1, 2, 2, 3, 5]);
    assert.equal(headerSize(7, 2), 4);
    assert.equal(headerSize(42, 1000), 5);
  });

  test('a READINGS is as large as the codec makes it, for one and for many readings', () => {
    for (const batch of [1, 9, 10]) {
      const model = modelRun({ transport: 'udp', batch, readings: batch, deviceId: 42, seed: 1, intervalMs: 20, valueBytesPerReading: 4 });
      const encoded = encode({ type: 'READINGS', deviceId: 42, seq: 2, baseTime: 1_763_900_000_000, readings: floats(batch) });
      assert.equal(model.sizes.readings, encoded.length, `batch ${batch}`);
    }
    // PROTOCOL.md §12.2: one float32 reading is 19 bytes on UDP with device 42 and seq 1000; seq 2 is one byte shorter.
    assert.equal(modelRun({ transport: 'udp', batch: 1, readings: 1, deviceId: 42, seed: 1, intervalMs: 20, valueBytesPerReading: 4 }).sizes.readings, 18);
  });

  test('UDP: 2M + 4 datagrams, each 42 bytes of headers plus its message', () => {
    const m = modelRun({ ...spec('udp', 10), valueBytesPerReading: 4 });
    assert.equal(m.messages, 9);
    assert.equal(m.total.frames, 2 * 9 + 4);
    assert.equal(m.total.layers.link, 14 * m.total.frames);
    assert.equal(m.total.layers.ip, 20 * m.total.frames);
    assert.equal(m.total.layers.transport, 8 * m.total.frames);
    assert.equal(m.total.layers.framing, 0);
    assert.equal(layerTotal(m.total.layers), m.total.bytes);
    assert.equal(m.handshake.frames + m.teardown.frames, 0);
    assert.equal(m.total.layers.values, 90 * 4);
  });

  test('TCP: handshake and teardown, a length prefix per message, the negotiated header sizes', () => {
    const m = modelRun({ ...spec('tcp', 1), valueBytesPerReading: VALUE_BYTES, tcp: DEFAULT_TCP_HEADERS });
    assert.equal(m.total.frames, 2 * 90 + 10);
    assert.deepEqual({ frames: m.handshake.frames, bytes: m.handshake.bytes }, { frames: 3, bytes: 74 + 74 + 66 });
    assert.deepEqual({ frames: m.teardown.frames, bytes: m.teardown.bytes }, { frames: 3, bytes: 3 * 66 });
    assert.equal(m.total.layers.transport, 40 + 40 + 32 * (m.total.frames - 2));
    assert.equal(layerTotal(m.total.layers), m.total.bytes);
    // A length prefix per message: 2 bytes for the HELLO (its catalogue passes 127 bytes), 1 for BYE, 90 READINGS, 92 ACKs.
    assert.ok(m.sizes.hello > 127, 'the HELLO carries the nine-sensor catalogue');
    assert.equal(m.total.layers.framing, 2 + 1 + 90 + 92);
    // Timestamps off: 20-byte headers after the SYN.
    const bare = modelRun({ ...spec('tcp', 1), valueBytesPerReading: VALUE_BYTES, tcp: { syn: 32, synAck: 32, segment: 20, options: [] } });
    assert.equal(m.total.bytes - bare.total.bytes, 8 + 8 + 12 * (m.total.frames - 2));
  });

  test('rudp ACKs carry epoch, window and range count', () => {
    const udp = modelRun({ ...spec('udp', 1), valueBytesPerReading: 4 });
    const rudp = modelRun({ ...spec('rudp', 1), valueBytesPerReading: 4 });
    assert.equal(rudp.sizes.ack - udp.sizes.ack, 4 + 1 + 1);
    const ack = encode({ type: 'ACK', deviceId: 7, seq: 2, status: 'OK', ackSeq: 2, rxTime: 1, holdUs: 1000, reliable: true, rudp: { epoch: 1, window: 64, sack: [] } });
    assert.equal(rudp.sizes.ack, ack.length);
  });

  test('batching divides the per-message overhead', () => {
    const per = (batch: number): number => modelRun({ ...spec('udp', batch, 0, 900), valueBytesPerReading: 4 }).steadyBytesPerReading;
    assert.ok(per(1) > 5 * per(10) / 2, `${per(1)} vs ${per(10)}`);
    assert.ok(per(10) > per(100));
  });

  test('loss: plain UDP loses its share, TCP and rudp send again, rudp only its reliable readings for sure', () => {
    assert.deepEqual(modelLoss('udp', 20), { deliveredFraction: 0.8, sendsPerDataFrame: 1 });
    assert.equal(modelLoss('tcp', 20).deliveredFraction, 1);
    assert.equal(modelLoss('rudp', 50).sendsPerDataFrame, 2);
    assert.equal(reliableShare(), 2 / 9, 'door and status of nine sensors');
    assert.ok(Math.abs(modelLoss('rudp', 20).deliveredFraction - (2 / 9 + (7 / 9) * 0.8)) < 1e-12);
  });

  test('a TCP frame prefix as encodeFrame writes it', () => {
    const message = { type: 'BYE' as const, deviceId: 7, seq: 92, reason: 0 };
    assert.equal(encodeFrame(message).length - encode(message).length, 1);
  });
});

describe('experiment options', () => {
  const defaults = { ...EXPERIMENT_DEFAULTS, readings: String(EXPERIMENT_DEFAULTS.readings), seed: String(EXPERIMENT_DEFAULTS.seed) };

  test('defaults: three transports, batches 1 and 10, loss 0, 5, 20', () => {
    const o = parseExperimentOptions(defaults);
    assert.deepEqual(o.transports, ['tcp', 'udp', 'rudp']);
    assert.deepEqual(o.batch, [1, 10]);
    assert.deepEqual(o.loss, [0, 5, 20]);
    assert.equal(o.interval, 20);
    assert.equal(o.keepCaptures, false);
  });

  test('lists are sorted, without repeats; transports in the order tcp, udp, rudp', () => {
    const o = parseExperimentOptions({ ...defaults, transports: 'rudp, tcp,tcp', batch: '10,1,10', loss: '20,0', interval: '1s' });
    assert.deepEqual(o.transports, ['tcp', 'rudp']);
    assert.deepEqual(o.batch, [1, 10]);
    assert.deepEqual(o.loss, [0, 20]);
    assert.equal(o.interval, 1000);
  });

  test('bad values are refused, naming the option', () => {
    const bad: [string, Record<string, string>][] = [
      ['--transports', { transports: 'tcp,sctp' }],
      ['--transports', { transports: '' }],
      ['--batch', { batch: '0' }],
      ['--batch', { batch: '256' }],
      ['--batch', { batch: 'ten' }],
      ['--loss', { loss: '95' }],
      ['--readings', { readings: '0' }],
      ['--interval', { interval: 'soon' }],
    ];
    for (const [option, change] of bad) {
      assert.throws(() => parseExperimentOptions({ ...defaults, ...change }), (e: Error) => e.message.startsWith(option), `${option} ${JSON.stringify(change)}`);
    }
  });
});

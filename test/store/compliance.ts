// One suite every Store passes: the contract of src/store/types.ts, run against the SQLite store
// and the memory store alike.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Reading, SensorSpec, Value } from '../../src/protocol/index.ts';
import { StoreError } from '../../src/store/errors.ts';
import { packReadings } from '../../src/store/packed.ts';
import type { DeviceRecord, ReadingsBatch, ReadingsQuery, Store, StoredReading, TransportName } from '../../src/store/types.ts';

export interface OpenedStore {
  readonly store: Store;
  /** Closes the store (if still open) and removes whatever it kept on disk. */
  cleanup(): Promise<void>;
}

export async function collect(store: Store, query?: ReadingsQuery): Promise<StoredReading[]> {
  const out: StoredReading[] = [];
  for await (const r of store.readings(query)) out.push(r);
  return out;
}

export function isStoreError(code: StoreError['code']): (e: unknown) => boolean {
  return (e: unknown) => e instanceof StoreError && e.code === code;
}

/** One value of every type, with the edges of each. */
export const EVERY_VALUE: readonly Value[] = [
  { type: 'bool', value: true },
  { type: 'bool', value: false },
  { type: 'int8', value: -128 },
  { type: 'int8', value: 127 },
  { type: 'int16', value: -32768 },
  { type: 'int16', value: 32767 },
  { type: 'int32', value: -2147483648 },
  { type: 'int32', value: 2147483647 },
  { type: 'int64', value: -(2n ** 63n) },
  { type: 'int64', value: 2n ** 63n - 1n },
  { type: 'int64', value: 0n },
  { type: 'uint8', value: 255 },
  { type: 'uint16', value: 65535 },
  { type: 'uint32', value: 4294967295 },
  { type: 'uint32', value: 0 },
  { type: 'uint64', value: 2n ** 64n - 1n },
  { type: 'uint64', value: 0n },
  { type: 'float32', value: Math.fround(21.5) },
  { type: 'float32', value: Math.fround(0.1) },
  { type: 'float32', value: -0 },
  { type: 'float32', value: NaN },
  { type: 'float32', value: Infinity },
  { type: 'float64', value: Math.PI },
  { type: 'float64', value: -0 },
  { type: 'float64', value: 0 },
  { type: 'float64', value: -Infinity },
  { type: 'float64', value: NaN },
  { type: 'float64', value: Number.MIN_VALUE },
  { type: 'float64', value: -Number.MAX_VALUE },
  { type: 'float64', value: 3 },
  { type: 'string', value: '' },
  { type: 'string', value: 'température 🌡️ 温度 ∆' },
  { type: 'string', value: '123' },
  { type: 'string', value: 'quote " comma , line\nend' },
  { type: 'bytes', value: new Uint8Array(0) },
  { type: 'bytes', value: new Uint8Array([0, 1, 127, 128, 255]) },
  { type: 'timestamp', value: 1_700_000_000_123_456n },
  { type: 'timestamp', value: -1n },
  { type: 'timestamp', value: 2n ** 63n - 1n },
  { type: 'geo', value: { lat: 40.4167754, lon: -3.7037902 } },
  { type: 'geo', value: { lat: -90, lon: 180 } },
  { type: 'geo', value: { lat: -0, lon: 0 } },
];

const BASE = 1_700_000_000_000;

export function spec(id: number, type: SensorSpec['type'], name = `s${id}`, unit = ''): SensorSpec {
  return { id, type, delivery: 'reliable', unit, name };
}

export function device(deviceId: number, over: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    deviceId, session: 1, model: 'wx-1', firmware: '1.0.0', intervalMs: 1000,
    sensors: [spec(1, 'float32', 'temperature', '°C'), spec(2, 'bool', 'door')],
    transport: 'tcp', highestSeq: 0, configId: 0, firstSeen: BASE, lastSeen: BASE, ...over,
  };
}

/** A batch with its readings as decoded (not packed). */
export type DecodedBatch = ReadingsBatch & { readonly readings: readonly Reading[] };

export function batch(
  deviceId: number, session: number, seq: number, readings: readonly Reading[],
  options: { transport?: TransportName; baseTime?: number } = {},
): DecodedBatch {
  return {
    deviceId, session, seq, transport: options.transport ?? 'tcp', baseTime: options.baseTime ?? BASE + seq * 1000,
    receivedAt: (options.baseTime ?? BASE + seq * 1000) + 5, readings,
  };
}

/** The same batch with its readings packed, as the server commits them. */
export function packed(b: DecodedBatch): ReadingsBatch {
  return { ...b, readings: packReadings(b.baseTime, b.readings) };
}

/** n float32 readings of sensor 1, 10 ms apart, values 0, 1, 2 … */
export function floats(n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ sensor: 1, delta: i * 10, type: 'float32', value: i }));
}

type Key = [number, number, number, number];
const keyOf = (r: StoredReading): Key => [r.device, r.session, r.seq, r.index];

export function storeCompliance(name: string, open: () => Promise<OpenedStore>): void {
  /** A fresh store, cleaned up when the test ends. */
  async function fresh(t: TestContext): Promise<Store> {
    const { store, cleanup } = await open();
    t.after(cleanup);
    return store;
  }

  describe(`${name} store compliance`, () => {
    it('saves and loads a device with its catalogue', async (t) => {
      const store = await fresh(t);
      assert.equal(await store.loadDevice(9), undefined);
      const record = device(9, {
        session: 4_000_000_000, transport: 'rudp', highestSeq: 12, configId: 3, firstSeen: BASE - 5, lastSeen: BASE + 5,
        model: 'ünïcode 模型', firmware: '',
        sensors: [spec(200, 'geo', 'where', ''), spec(0, 'uint64', '', ''), spec(7, 'string', 'label', 'txt')],
      });
      await store.saveDevice(record);
      assert.deepEqual(await store.loadDevice(9), record);
      // A new HELLO replaces the device and its catalogue.
      const next = device(9, { session: 4_000_000_001, sensors: [spec(1, 'int8', 'level', '%')] });
      await store.saveDevice(next);
      assert.deepEqual(await store.loadDevice(9), next);
    });

    it('stores every value type and reads each back identical', async (t) => {
      const store = await fresh(t);
      const readings: Reading[] = EVERY_VALUE.map((v, i) => ({ sensor: i, delta: i, ...v }));
      assert.deepEqual(await store.commit([batch(1, 1, 2, readings, { transport: 'udp', baseTime: BASE })]), ['stored']);
      const got = await collect(store);
      assert.equal(got.length, EVERY_VALUE.length);
      got.forEach((r, i) => {
        assert.deepStrictEqual({ type: r.type, value: r.value }, EVERY_VALUE[i], `reading ${i}`);
        assert.deepEqual(
          { device: r.device, session: r.session, seq: r.seq, index: r.index, sensor: r.sensor, ts: r.ts },
          { device: 1, session: 1, seq: 2, index: i, sensor: i, ts: BASE + i },
        );
        assert.equal(r.transport, 'udp');
        assert.equal(r.receivedAt, BASE + 5);
        if (r.value instanceof Uint8Array) assert.equal(Object.getPrototypeOf(r.value), Uint8Array.prototype);
      });
    });

    it('stores packed readings as it stores the same readings decoded', async (t) => {
      const store = await fresh(t);
      const readings: Reading[] = EVERY_VALUE.map((v, i) => ({ sensor: i, delta: i * 3 - 20, ...v }));
      const decoded = batch(1, 1, 2, readings, { transport: 'udp', baseTime: BASE });
      assert.deepEqual(await store.commit([decoded, packed(batch(1, 2, 2, readings, { transport: 'udp', baseTime: BASE }))]), ['stored', 'stored']);
      const got = await collect(store);
      const bySession = (s: number): unknown[] => got.filter((r) => r.session === s).map(({ session: _, ...rest }) => rest);
      assert.equal(bySession(1).length, EVERY_VALUE.length);
      assert.deepStrictEqual(bySession(2), bySession(1));
      assert.deepEqual(await store.totals(), [{ device: 1, transport: 'udp', messages: 2, readings: 2 * EVERY_VALUE.length }]);
      // Readings taken before the base time count for `since` as the decoded ones do.
      assert.deepEqual((await collect(store, { since: BASE - 5 })).length, 2 * EVERY_VALUE.filter((_, i) => i * 3 - 20 >= -5).length);
      // A packed batch is a duplicate of the same seq stored decoded, and the other way round.
      assert.deepEqual(await store.commit([packed(decoded), batch(1, 2, 2, floats(1))]), ['duplicate', 'duplicate']);
      assert.equal((await store.loadDevice(1)), undefined);
    });

    it('names readings from the catalogue of their session', async (t) => {
      const store = await fresh(t);
      await store.saveDevice(device(1, { session: 1, sensors: [spec(1, 'float32', 'temperature', '°C')] }));
      await store.commit([batch(1, 1, 2, [{ sensor: 1, delta: 0, type: 'float32', value: 1 }, { sensor: 9, delta: 0, type: 'bool', value: true }])]);
      await store.saveDevice(device(1, { session: 2, sensors: [spec(1, 'float32', 'inside', 'K')] }));
      await store.commit([batch(1, 2, 2, [{ sensor: 1, delta: 0, type: 'float32', value: 2 }])]);
      const got = (await collect(store)).map((r) => [r.session, r.sensor, r.name, r.unit]);
      assert.deepEqual(got, [[1, 1, 'temperature', '°C'], [1, 9, '', ''], [2, 1, 'inside', 'K']]);
    });

    it('stores a (device, session, seq) once: later ones are duplicates, within one commit too', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.commit([batch(1, 1, 2, floats(3))]), ['stored']);
      assert.deepEqual(
        await store.commit([batch(1, 1, 2, floats(5)), batch(1, 1, 3, floats(2)), batch(1, 1, 3, floats(4)), batch(2, 1, 2, floats(1))]),
        ['duplicate', 'stored', 'duplicate', 'stored'],
      );
      const got = await collect(store);
      assert.deepEqual(got.map(keyOf), [[1, 1, 2, 0], [1, 1, 2, 1], [1, 1, 2, 2], [1, 1, 3, 0], [1, 1, 3, 1], [2, 1, 2, 0]]);
      assert.deepEqual(await store.totals(), [
        { device: 1, transport: 'tcp', messages: 2, readings: 5 },
        { device: 2, transport: 'tcp', messages: 1, readings: 1 },
      ]);
    });

    it('stores the same seq again in another session', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.commit([batch(1, 1, 5, floats(1))]), ['stored']);
      assert.deepEqual(await store.commit([batch(1, 2, 5, floats(1)), batch(1, 1, 5, floats(1))]), ['stored', 'duplicate']);
      assert.deepEqual((await collect(store)).map(keyOf), [[1, 1, 5, 0], [1, 2, 5, 0]]);
    });

    it('raises the highest seq of the current session by commit and noteSeq, never lowers it', async (t) => {
      const store = await fresh(t);
      await store.saveDevice(device(1, { session: 7, highestSeq: 1 }));
      const highest = async (): Promise<number | undefined> => (await store.loadDevice(1))?.highestSeq;
      await store.commit([batch(1, 7, 5, floats(1)), batch(1, 7, 3, floats(1))]);
      assert.equal(await highest(), 5);
      await store.commit([batch(1, 7, 4, floats(1))]);
      assert.equal(await highest(), 5);
      await store.noteSeq(1, 7, 9);
      assert.equal(await highest(), 9);
      await store.noteSeq(1, 7, 8);
      assert.equal(await highest(), 9);
      // Another session's seq is not this session's; noteSeq only notes the current session's.
      await store.noteSeq(1, 6, 100);
      await store.commit([batch(1, 6, 50, floats(1))]);
      assert.equal(await highest(), 9);
      // Back in session 6, what was stored in it counts, whatever the record says; a duplicate raises nothing.
      await store.saveDevice(device(1, { session: 6, highestSeq: 0 }));
      assert.equal(await highest(), 50);
      assert.deepEqual(await store.commit([batch(1, 6, 50, floats(1)), batch(1, 6, 20, floats(1))]), ['duplicate', 'stored']);
      assert.equal(await highest(), 50);
      // Unknown devices are no error.
      await store.noteSeq(99, 1, 1);
      await store.commit([batch(99, 1, 1, floats(1))]);
      assert.equal(await store.loadDevice(99), undefined);
    });

    it('records the configuration issued', async (t) => {
      const store = await fresh(t);
      await store.saveDevice(device(1));
      await store.noteConfig(1, 42);
      assert.equal((await store.loadDevice(1))?.configId, 42);
      await store.noteConfig(98, 1);
      assert.equal(await store.loadDevice(98), undefined);
    });

    it('returns readings in (device, session, seq, index) order, filtered by device, since and limit', async (t) => {
      const store = await fresh(t);
      // Committed out of order, over several calls.
      await store.commit([batch(2, 1, 3, floats(2), { baseTime: BASE + 300 }), batch(1, 2, 2, floats(2), { baseTime: BASE + 200 })]);
      await store.commit([batch(1, 1, 9, floats(3), { baseTime: BASE + 100 }), batch(2, 1, 2, floats(1), { baseTime: BASE })]);
      await store.commit([batch(1, 1, 4, floats(1), { baseTime: BASE + 400 })]);
      const all = await collect(store);
      assert.deepEqual(all.map(keyOf), [
        [1, 1, 4, 0], [1, 1, 9, 0], [1, 1, 9, 1], [1, 1, 9, 2], [1, 2, 2, 0], [1, 2, 2, 1], [2, 1, 2, 0], [2, 1, 3, 0], [2, 1, 3, 1],
      ]);
      assert.deepEqual(all.map((r) => r.ts), [400, 100, 110, 120, 200, 210, 0, 300, 310].map((d) => BASE + d));
      assert.deepEqual((await collect(store, { device: 2 })).map(keyOf), [[2, 1, 2, 0], [2, 1, 3, 0], [2, 1, 3, 1]]);
      assert.deepEqual((await collect(store, { device: 3 })).map(keyOf), []);
      assert.deepEqual((await collect(store, { since: BASE + 200 })).map((r) => r.ts), [400, 200, 210, 300, 310].map((d) => BASE + d));
      assert.deepEqual((await collect(store, { limit: 2 })).map(keyOf), [[1, 1, 4, 0], [1, 1, 9, 0]]);
      assert.deepEqual((await collect(store, { limit: 0 })).map(keyOf), []);
      assert.deepEqual((await collect(store, { device: 1, since: BASE + 110, limit: 3 })).map(keyOf), [[1, 1, 4, 0], [1, 1, 9, 1], [1, 1, 9, 2]]);
      assert.deepEqual((await collect(store, { since: BASE + 1000 })).map(keyOf), []);
    });

    it('streams many readings in order, also past a page of results', async (t) => {
      const store = await fresh(t);
      const batches = [3, 1, 2].flatMap((d) => [4, 2, 3, 1].map((seq) => batch(d, 1, seq, floats(255))));
      await store.commit(batches);
      const all = await collect(store);
      assert.equal(all.length, 12 * 255);
      for (let i = 1; i < all.length; i++) {
        const [a, b] = [all[i - 1], all[i]];
        assert.ok(a !== undefined && b !== undefined);
        assert.ok(a.device < b.device || (a.device === b.device && (a.seq < b.seq || (a.seq === b.seq && a.index + 1 === b.index))), `order at ${i}`);
      }
      const some = await collect(store, { device: 2, since: BASE + 2000 + 1000, limit: 700 });
      // seq 1 from index 200 (55), seq 2 from index 100 (155), all of seq 3 (255), 235 of seq 4.
      assert.equal(some.length, 700);
      assert.deepEqual(keyOf(some[0]!), [2, 1, 1, 200]);
      assert.deepEqual(keyOf(some[55]!), [2, 1, 2, 100]);
      assert.deepEqual(keyOf(some.at(-1)!), [2, 1, 4, 234]);
      // Stopping early is fine.
      let n = 0;
      for await (const _ of store.readings()) if (++n === 3) break;
      assert.equal(n, 3);
    });

    it('counts messages and readings per device and transport', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.totals(), []);
      await store.commit([
        batch(2, 1, 2, floats(3), { transport: 'udp' }), batch(1, 1, 2, floats(1), { transport: 'tcp' }),
        batch(2, 1, 3, floats(4), { transport: 'udp' }), batch(2, 2, 2, floats(1), { transport: 'rudp' }),
      ]);
      assert.deepEqual(await store.totals(), [
        { device: 1, transport: 'tcp', messages: 1, readings: 1 },
        { device: 2, transport: 'rudp', messages: 1, readings: 1 },
        { device: 2, transport: 'udp', messages: 2, readings: 7 },
      ]);
    });

    it('commits all or nothing: a value that cannot be stored fails the whole call with STORE_WRITE', async (t) => {
      const store = await fresh(t);
      await store.saveDevice(device(1, { highestSeq: 1 }));
      await store.commit([batch(1, 1, 2, floats(2))]);
      const bad: Reading[][] = [
        [{ sensor: 1, delta: 0, type: 'int8', value: 128 }],
        [{ sensor: 1, delta: 0, type: 'uint32', value: -1 }],
        [{ sensor: 1, delta: 0, type: 'int16', value: 1.5 }],
        [{ sensor: 1, delta: 0, type: 'uint64', value: -1n }],
        [{ sensor: 1, delta: 0, type: 'int64', value: 2n ** 63n }],
        [{ sensor: 1, delta: 0, type: 'string', value: 'lone \ud800 surrogate' }],
        [{ sensor: 1, delta: 0, type: 'geo', value: { lat: NaN, lon: 0 } }],
        [{ sensor: 1, delta: 0.5, type: 'bool', value: true }],
      ];
      for (const [i, readings] of bad.entries()) {
        await assert.rejects(
          store.commit([batch(1, 1, 3, floats(4)), batch(2, 1, 3, floats(1)), batch(1, 1, 4, [...floats(2), ...readings])]),
          isStoreError('STORE_WRITE'),
          `bad reading ${i}`,
        );
      }
      assert.equal((await collect(store)).length, 2);
      assert.deepEqual(await store.totals(), [{ device: 1, transport: 'tcp', messages: 1, readings: 2 }]);
      assert.equal((await store.loadDevice(1))?.highestSeq, 2);
      // Nothing of the failed calls counts as stored: the same messages are new afterwards.
      assert.deepEqual(await store.commit([batch(1, 1, 3, floats(4)), batch(2, 1, 3, floats(1))]), ['stored', 'stored']);
      assert.equal((await store.loadDevice(1))?.highestSeq, 3);
    });

    it('commits nothing for an empty call', async (t) => {
      const store = await fresh(t);
      assert.deepEqual(await store.commit([]), []);
      assert.deepEqual(await store.totals(), []);
    });

    it('rejects every call with STORE_CLOSED once closed; close twice is fine', async (t) => {
      const store = await fresh(t);
      await store.saveDevice(device(1));
      await store.close();
      await store.close();
      const closed = isStoreError('STORE_CLOSED');
      await assert.rejects(store.saveDevice(device(2)), closed);
      await assert.rejects(store.loadDevice(1), closed);
      await assert.rejects(store.noteSeq(1, 1, 2), closed);
      await assert.rejects(store.noteConfig(1, 2), closed);
      await assert.rejects(store.commit([batch(1, 1, 2, floats(1))]), closed);
      await assert.rejects(store.commit([]), closed);
      await assert.rejects(collect(store), closed);
      await assert.rejects(store.totals(), closed);
    });
  });
}

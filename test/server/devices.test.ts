// The server's per-device state (src/server/devices.ts): loaded from the store, kept across a
// HELLO of the same session, replaced for a new one, re-read when another process may have
// written it; and the server's own seq counters, which senders without a session cannot grow.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceRegistry } from '../../src/server/devices.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { DeviceRecord } from '../../src/store/types.ts';

function record(deviceId: number, session: number, highestSeq = 1): DeviceRecord {
  return {
    deviceId, session, model: 'm', firmware: 'f', intervalMs: 1000, transport: 'tcp', highestSeq, configId: 0, firstSeen: 1, lastSeen: 1,
    sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: 'a' }],
  };
}

describe('DeviceRegistry', { timeout: 120_000 }, () => {
  it('numbers its messages per device with a session, from 1', async () => {
    const registry = new DeviceRegistry(new MemoryStore());
    await registry.hello(record(7, 1));
    await registry.hello(record(8, 1));
    assert.deepEqual([registry.nextSeq(7), registry.nextSeq(7), registry.nextSeq(8), registry.nextSeq(7)], [1, 2, 1, 3]);
  });

  it('keeps one shared counter for every sender without a session, however many ids they name', async () => {
    const registry = new DeviceRegistry(new MemoryStore());
    await registry.hello(record(7, 1));
    const seqs = Array.from({ length: 1000 }, (_, i) => registry.nextSeq(1000 + i));
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'one running count');
    registry.nextSeq(0);
    registry.nextSeq(7);
    assert.equal(registry.counters, 2, 'device 7 and the shared counter only');
  });

  it('keeps the replay window, pending CONFIG and disabled sensors across a HELLO of the same session', async () => {
    const registry = new DeviceRegistry(new MemoryStore());
    const first = await registry.hello(record(7, 1, 5));
    first.window.accept(9);
    first.disabled.add(1);
    first.pending = { body: { configId: 1, intervalMs: 10, enable: [], disable: [1] }, carriedBy: new Set([3]) };
    const again = await registry.hello(record(7, 1, 10));
    assert.equal(again.window, first.window);
    assert.equal(again.window.seenBefore(9), true);
    assert.deepEqual([...again.disabled], [1]);
    assert.equal(again.pending?.body.configId, 1);
    const fresh = await registry.hello(record(7, 2, 1));
    assert.notEqual(fresh.window, first.window);
    assert.equal(fresh.window.highest, 1);
    assert.equal(fresh.pending, undefined);
    assert.equal(fresh.disabled.size, 0);
  });

  it('loads a device from the store once, and re-reads it when asked (another process took its HELLO)', async () => {
    const store = new MemoryStore();
    await store.saveDevice(record(7, 1, 20));
    const registry = new DeviceRegistry(store);
    assert.equal(await registry.get(99), undefined);
    const loaded = await registry.get(7);
    assert.ok(loaded);
    assert.equal(loaded.window.highest, 20);
    assert.equal(loaded.window.seenBefore(20), true, 'after a load every seq up to the highest counts as seen');
    assert.equal(await registry.get(7), loaded, 'cached');
    assert.equal(await registry.get(7, true), loaded, 'same session in the store: the cached state stays');
    await store.saveDevice(record(7, 2, 3));
    assert.equal(await registry.get(7), loaded, 'not re-read unless asked');
    const reread = await registry.get(7, true);
    assert.notEqual(reread, loaded);
    assert.equal(reread?.record.session, 2);
  });
});

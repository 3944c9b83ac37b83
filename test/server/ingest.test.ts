// IngestServer details over the memory transport: drain() for several callers at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import { encode } from '../../src/protocol/index.ts';
import { IngestServer } from '../../src/server/ingest.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { DeviceRecord } from '../../src/store/types.ts';
import { createMemoryTransport } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';
import { DelegatingStore } from './support.ts';

/** Holds every loadDevice until released. */
class SlowLoads extends DelegatingStore {
  calls = 0;
  private gate: Promise<void>;
  release: () => void = () => {};
  constructor() {
    super(new MemoryStore());
    this.gate = new Promise((resolve) => (this.release = resolve));
  }
  override async loadDevice(deviceId: number): Promise<DeviceRecord | undefined> {
    this.calls++;
    await this.gate;
    return this.inner.loadDevice(deviceId);
  }
}

describe('IngestServer.drain', { timeout: 120_000 }, () => {
  it('resolves for every caller waiting at once', async (t) => {
    const store = new SlowLoads();
    const ingest = new IngestServer({ store, log: silentLogger() });
    const transport = createMemoryTransport();
    const listener = await transport.listen({ port: 0 }, ingest.handler);
    t.after(() => listener.close());
    const link = await transport.connect({ host: 'memory', port: listener.port }, { frame: () => {} });
    t.after(() => link.close());
    link.send(encode({
      type: 'HELLO', deviceId: 3, seq: 1, session: 1, resumeSeq: 1, intervalMs: 1000, model: '', firmware: '',
      sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: '' }],
    }));
    await until(() => store.calls === 1, 'the HELLO to be in flight');
    const done: number[] = [];
    const drains = [1, 2, 3].map((n) => ingest.drain().then(() => done.push(n)));
    store.release();
    await within(Promise.all(drains), 'every drain() to resolve', 2000);
    assert.deepEqual(done.sort(), [1, 2, 3]);
  });
});

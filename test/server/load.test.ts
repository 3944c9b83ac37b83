// 200 simulated devices at once on each transport against one in-process server on a SQLite
// file: every reading is acknowledged and stored exactly once. The devices' ACK events give the
// (seq, readings) of every acknowledged message, so the store's set of (device, session, seq,
// index) is compared with what the devices saw acknowledged, not only the counts.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { DeviceEvent } from '../../src/device/device.ts';
import { Fleet, fleetTotals } from '../../src/device/fleet.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { tcp, udp, type Transport } from '../../src/transport/index.ts';
import { within } from '../support/wait.ts';
import { HOST, checkStore, checkSummaries, readingKey, startSqliteServer } from './support.ts';

const DEVICES = 200;
const COUNT = 20;

async function fleetRun(t: TestContext, transport: Transport): Promise<void> {
  const { server, dbPath, tcpPort, udpPort } = await startSqliteServer(t);
  // ack events per device: seq → readings of the acknowledged READINGS
  const acked = new Map<number, Map<number, number>>();
  const statuses = new Map<string, number>();
  const errors: string[] = [];
  const fleet = new Fleet({
    devices: DEVICES,
    firstId: 1000,
    transports: [transport],
    ports: { tcp: tcpPort, udp: udpPort },
    host: HOST,
    intervalMs: 10,
    batch: 5,
    count: COUNT,
    ackTimeoutMs: 15_000,
    drainMs: 20_000,
    session: 7,
    onEvent: (device: number, e: DeviceEvent) => {
      if (e.kind === 'ack' && e.what === 'READINGS') {
        const seqs = acked.get(device) ?? new Map<number, number>();
        assert.equal(seqs.has(e.ackSeq), false, `device ${device} saw seq ${e.ackSeq} acknowledged twice`);
        seqs.set(e.ackSeq, e.readings);
        acked.set(device, seqs);
        statuses.set(e.status, (statuses.get(e.status) ?? 0) + 1);
      }
      if (e.kind === 'error') errors.push(`${device}: ${e.name}`);
    },
  });
  t.after(() => fleet.finish());
  const summaries = await within(fleet.run(), `${DEVICES} ${transport.kind} devices to finish`, 60_000);
  assert.equal(summaries.length, DEVICES);
  assert.deepEqual(errors, []);
  const totals = fleetTotals(summaries);
  assert.equal(totals.generated, DEVICES * COUNT);
  assert.equal(totals.acknowledged, DEVICES * COUNT);
  assert.deepEqual([...statuses.keys()], ['OK'], 'no resend was needed, so every ACK is OK');

  await server.close();
  const store = openSqliteStore(dbPath, { readonly: true });
  t.after(() => store.close());
  const check = await checkStore(store);
  checkSummaries(summaries, check);

  // The stored identities are exactly those the devices saw acknowledged.
  const expected = new Set<string>();
  for (const [device, seqs] of acked) {
    for (const [seq, n] of seqs) for (let index = 0; index < n; index++) expected.add(readingKey({ device, session: 7, seq, index }));
  }
  const stored = new Set(check.readings.map(readingKey));
  assert.equal(stored.size, DEVICES * COUNT);
  assert.deepEqual([...stored].filter((k) => !expected.has(k)), [], 'stored but never acknowledged');
  assert.deepEqual([...expected].filter((k) => !stored.has(k)), [], 'acknowledged but not stored');
  for (const r of check.readings) assert.equal(r.transport, transport.kind);

  // The server's counters agree.
  const stats = server.ingest.stats[transport.kind === 'udp' ? 'udp' : 'tcp'];
  assert.equal(stats.readingsStored, DEVICES * COUNT);
  assert.equal(stats.duplicates, 0);
  assert.equal(stats.malformed, 0);
  assert.equal(stats.refused, 0);
  assert.ok(server.ingest.transactions >= 1);
}

describe('200 devices at once', { timeout: 120_000 }, () => {
  it('over TCP: every reading acknowledged and stored exactly once', async (t) => {
    await fleetRun(t, tcp);
  });

  it('over UDP: every reading acknowledged and stored exactly once', async (t) => {
    await fleetRun(t, udp);
  });
});

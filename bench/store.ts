// npx tsx bench/store.ts — the storage side of the ingest benchmark alone: Store.commit() on a
// fresh SQLite file, with no sockets and no decoding, for 1 and 100 devices, batches of 1 and 10,
// and the group sizes one event-loop turn of the server commits. It prints messages/s and µs per
// message, so a change to the schema or the insert loop can be judged apart from the server.
// BENCH_SECONDS sets the seconds per figure (default 2).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '../src/protocol/index.ts';
import { openSqliteStore } from '../src/store/sqlite.ts';
import type { ReadingsBatch } from '../src/store/types.ts';
import { CATALOGUE, readingsMessage } from './load.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

interface Case {
  readonly devices: number;
  readonly batch: number;
  /** Messages per transaction. */
  readonly group: number;
}

const CASES: readonly Case[] = [
  { devices: 1, batch: 1, group: 64 },
  { devices: 1, batch: 10, group: 64 },
  { devices: 100, batch: 1, group: 64 },
  { devices: 100, batch: 1, group: 1000 },
  { devices: 100, batch: 10, group: 1000 },
];

function readingsOf(batch: number): readonly Reading[] {
  const m = readingsMessage(1, 1, batch);
  if (m.type !== 'READINGS') throw new TypeError('not a READINGS');
  return m.readings;
}

const dir = mkdtempSync(join(tmpdir(), 'sensorwire-store-bench-'));
try {
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${SECONDS} s per figure`);
  console.log('| devices | batch | messages/commit | messages/s | readings/s | µs/message |');
  console.log('|---|---|---|---|---|---|');
  let run = 0;
  for (const c of CASES) {
    const store = openSqliteStore(join(dir, `store-${run++}.db`));
    const now = Date.now();
    for (let d = 1; d <= c.devices; d++) {
      await store.saveDevice({
        deviceId: d, session: 1, model: 'bench', firmware: '1', intervalMs: 1, sensors: CATALOGUE, transport: 'tcp',
        highestSeq: 1, configId: 0, firstSeen: now, lastSeen: now,
      });
    }
    const readings = readingsOf(c.batch);
    const seqs = new Array<number>(c.devices + 1).fill(1);
    let next = 0;
    let messages = 0;
    const started = performance.now();
    const until = started + SECONDS * 1000;
    while (performance.now() < until) {
      const group: ReadingsBatch[] = [];
      for (let i = 0; i < c.group; i++) {
        const deviceId = (next++ % c.devices) + 1;
        const seq = ++seqs[deviceId]!;
        group.push({ deviceId, session: 1, seq, transport: 'tcp', baseTime: now + seq, receivedAt: now + seq, readings });
      }
      await store.commit(group);
      messages += group.length;
    }
    const seconds = (performance.now() - started) / 1000;
    await store.close();
    const rate = messages / seconds;
    console.log(`| ${c.devices} | ${c.batch} | ${c.group} | ${Math.round(rate).toLocaleString('en')} | ${Math.round(rate * c.batch).toLocaleString('en')} | ${(1e6 / rate).toFixed(2)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

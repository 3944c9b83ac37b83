// WAL checkpoints from the worker thread (src/store/checkpointer.ts): commits never checkpoint on
// the store's own connection, the worker does, the WAL stays bounded under steady commits, and
// close() stops the worker and leaves a checkpointed file with no WAL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Checkpointer } from '../../src/store/checkpointer.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { until, within } from '../support/wait.ts';
import { batch, collect, device, floats } from './compliance.ts';

function dbIn(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sensorwire-checkpoint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'store.db');
}

function walBytes(path: string): number {
  return existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0;
}

const PAGE = 4096;

describe('WAL checkpoints in a worker thread', { timeout: 60_000 }, () => {
  it('commits leave the WAL to the worker: past 1000 pages nothing is checkpointed until it runs', async (t) => {
    const path = dbIn(t);
    // An interval longer than the test: only close() may checkpoint.
    const store = openSqliteStore(path, { checkpointWorker: { intervalMs: 3_600_000 } });
    t.after(() => store.close());
    await store.saveDevice(device(1));
    let seq = 1;
    // Well past SQLite's automatic threshold of 1000 pages.
    for (let i = 0; i < 200; i++) await store.commit([batch(1, 1, ++seq, floats(500)), batch(1, 1, ++seq, floats(500))]);
    assert.ok(walBytes(path) > 1200 * PAGE, `the WAL holds every commit (${walBytes(path)} bytes)`);
    assert.equal(store.checkpointer?.checkpoints, 0);
  });

  it('checkpoints while commits go on, and RESTART starts the WAL over past its limit', async (t) => {
    const path = dbIn(t);
    const maxWalFrames = 256;
    const store = openSqliteStore(path, { checkpointWorker: { intervalMs: 5, maxWalFrames } });
    t.after(() => store.close());
    await store.saveDevice(device(1));
    let seq = 1;
    let wrapped = false;
    let previous = 0;
    let copied = 0;
    const started = Date.now();
    // Small commits, back to back with a turn of the event loop between them, as the server makes them.
    for (let i = 0; i < 20_000 && Date.now() - started < 20_000; i++) {
      await store.commit([batch(1, 1, ++seq, floats(20))]);
      await new Promise((resolve) => setImmediate(resolve));
      const log = store.checkpointer?.last?.log ?? 0;
      copied = Math.max(copied, store.checkpointer?.last?.checkpointed ?? 0);
      // The WAL started over: it holds fewer pages than at the checkpoint before.
      if (log < previous) wrapped = true;
      previous = log;
      if (wrapped && (store.checkpointer?.restarts ?? 0) > 2) break;
    }
    assert.ok((store.checkpointer?.restarts ?? 0) > 0, 'the worker restarted the WAL');
    assert.ok(wrapped, 'the WAL started over from its beginning');
    // Some checkpoint copied pages (the latest one may have found a WAL just started over).
    assert.ok(copied > 0, 'a checkpoint copied pages into the database');
    assert.equal((await collect(store)).length, (seq - 1) * 20);
  });

  it('close() stops the worker and leaves a checkpointed file without a WAL', async (t) => {
    const path = dbIn(t);
    const store = openSqliteStore(path, { checkpointWorker: { intervalMs: 10 } });
    await store.saveDevice(device(1));
    for (let seq = 2; seq < 50; seq++) await store.commit([batch(1, 1, seq, floats(50))]);
    await until(() => (store.checkpointer?.checkpoints ?? 0) > 0, 'a checkpoint', 10_000);
    await store.close();
    assert.equal(existsSync(`${path}-wal`), false, 'the WAL was checkpointed and removed');
    const again = openSqliteStore(path, { readonly: true });
    t.after(() => again.close());
    assert.equal((await collect(again)).length, 48 * 50);
  });

  it('a worker that fails reports it once, and stop() still ends it', async (t) => {
    // Not a database: the worker's first checkpoint fails, and the worker is asked to stop.
    const path = dbIn(t);
    writeFileSync(path, 'not a database, long enough to have a header of sorts'.repeat(4));
    const failures: Error[] = [];
    const checkpointer = new Checkpointer(path, { intervalMs: 10 }, (e) => failures.push(e));
    await until(() => failures.length > 0, 'the failure to be reported');
    await within(checkpointer.stop(1000), 'stop() after a failure', 5000);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.message, 'WAL checkpoint failed: file is not a database');
    assert.equal(checkpointer.checkpoints, 0);
  });

  it('a read-only store and an in-memory one start no worker; `false` keeps SQLite\'s own checkpoint', async (t) => {
    const path = dbIn(t);
    const writer = openSqliteStore(path, { checkpointWorker: false });
    assert.equal(writer.checkpointer, undefined);
    await writer.saveDevice(device(1));
    for (let i = 0; i < 60; i++) await writer.commit([batch(1, 1, 2 * i + 2, floats(200)), batch(1, 1, 2 * i + 3, floats(200))]);
    // SQLite's automatic checkpoint kept starting the WAL over at 1000 pages.
    assert.ok(walBytes(path) < 1100 * PAGE, `WAL ${walBytes(path)} bytes`);
    const reader = openSqliteStore(path, { readonly: true });
    const memory = openSqliteStore(':memory:');
    t.after(async () => {
      await reader.close();
      await memory.close();
      await writer.close();
    });
    assert.equal(reader.checkpointer, undefined);
    assert.equal(memory.checkpointer, undefined);
  });

  it('a store left open does not keep its process alive, and the file it leaves reads back', async (t) => {
    const path = dbIn(t);
    const fixture = fileURLToPath(new URL('./fixtures/left-open.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await within(new Promise((resolve) => child.once('exit', resolve)), 'the process to exit by itself', 20_000);
    assert.deepEqual([code, out], [0, 'committed\n']);
    const again = openSqliteStore(path, { readonly: true });
    t.after(() => again.close());
    assert.equal((await collect(again)).length, 1);
  });
});

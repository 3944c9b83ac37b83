// The SQLite store: the shared compliance suite on a real file, then what only a file has:
// reopening, several connections and processes on one file, and opening what is not a store.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import type { Reading } from '../../src/protocol/index.ts';
import { pack } from '../../src/store/packed.ts';
import { MAX_RUN } from '../../src/store/runs.ts';
import { migrate } from '../../src/store/schema.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { toCell, typeCode } from '../../src/store/values.ts';
import { batch, collect, device, EVERY_VALUE, floats, isStoreError, storeCompliance, type DecodedBatch } from './compliance.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sensorwire-store-'));
}

/** A directory removed when the test ends. */
function dirFor(t: TestContext): string {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

storeCompliance('sqlite', async () => {
  const dir = tempDir();
  const store = openSqliteStore(join(dir, 'store.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** The base time batch() gives a seq. */
const BASE_OF = (seq: number): number => batch(0, 0, seq, []).baseTime;

const WRITER = fileURLToPath(new URL('fixtures/writer.ts', import.meta.url));

/** Runs the writer fixture in a child process; resolves with its exit code and output. */
function runWriter(path: string, deviceId: number, count: number): { done: Promise<{ code: number | null; out: string; err: string }>; kill(): void } {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, String(deviceId), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
  return {
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid);
    },
  };
}

/** Writes `batches` into a new file at schema version 1, the way version 1 stored them. */
function writeVersion1(path: string, batches: readonly DecodedBatch[]): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  migrate(db, 1);
  const insertMessage = db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insertReading = db.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (const b of batches) {
    insertMessage.run(b.deviceId, b.session, b.seq, b.transport, b.baseTime, b.receivedAt, b.readings.length);
    b.readings.forEach((r, i) => insertReading.run(b.deviceId, b.session, b.seq, i, r.sensor, typeCode(r.type), toCell(r), b.baseTime + r.delta));
  }
  db.close();
}

/** Writes `batches` into a new file at schema version 2: a row per message, readings packed. */
function writeVersion2(path: string, batches: readonly DecodedBatch[]): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  migrate(db, 2);
  const insert = db.prepare(
    `INSERT INTO messages (device, session, seq, transport, base_time, received_at, count, min_ts, max_ts, readings)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const b of batches) {
    const p = pack(b.baseTime, b.readings);
    insert.run(b.deviceId, b.session, b.seq, b.transport, b.baseTime, b.receivedAt, b.readings.length, p.minTs, p.maxTs, p.bytes);
  }
  db.close();
}

describe('sqlite store', () => {
  it('migrates a version 2 file into runs: the same readings, totals and duplicates as if stored now', async (t) => {
    const dir = dirFor(t);
    const every: Reading[] = EVERY_VALUE.map((v, i) => ({ sensor: i, delta: i * 7, ...v }));
    // Stored in an order unlike (device, session, seq), with gaps, mixed transports, and one
    // session longer than a run holds.
    const long = Array.from({ length: MAX_RUN + 5 }, (_, i) => batch(3, 1, 2 + 2 * i, floats(1)));
    const batches = [
      batch(2, 1, 9, floats(4), { transport: 'udp' }), batch(1, 1, 2, every), batch(2, 1, 3, floats(2), { transport: 'rudp' }),
      batch(1, 2, 2, floats(1), { transport: 'rudp' }), batch(2, 1, 5, floats(0)), ...long.reverse(),
    ];
    const old = join(dir, 'v2.db');
    writeVersion2(old, batches);
    assert.throws(() => openSqliteStore(old, { readonly: true }), isStoreError('STORE_OPEN'));
    const migrated = openSqliteStore(old);
    const fresh = openSqliteStore(join(dir, 'v3.db'));
    t.after(async () => {
      await migrated.close();
      await fresh.close();
    });
    await fresh.commit(batches);
    assert.deepStrictEqual(await collect(migrated), await collect(fresh));
    assert.deepStrictEqual(await collect(migrated, { device: 2, since: BASE_OF(4) }), await collect(fresh, { device: 2, since: BASE_OF(4) }));
    assert.deepEqual(await migrated.totals(), await fresh.totals());
    // Duplicates, and a gap filled inside a migrated run and past its end.
    const more = [batch(2, 1, 3, floats(1)), batch(2, 1, 4, floats(1)), batch(3, 1, 5, floats(1)), batch(3, 1, 6, floats(1)), batch(3, 1, 9000, floats(1))];
    assert.deepEqual(await migrated.commit(more), ['duplicate', 'stored', 'stored', 'duplicate', 'stored']);
    assert.deepEqual(await fresh.commit(more), ['duplicate', 'stored', 'stored', 'duplicate', 'stored']);
    assert.deepStrictEqual(await collect(migrated), await collect(fresh));
    const db = new Database(old, { readonly: true });
    t.after(() => db.close());
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all(), ['devices', 'runs', 'sensors']);
  });


  it('migrates a version 1 file: the same readings, totals and duplicates as if stored now', async (t) => {
    const dir = dirFor(t);
    const every: Reading[] = EVERY_VALUE.map((v, i) => ({ sensor: i, delta: i * 7, ...v }));
    const batches = [
      batch(2, 1, 3, floats(4), { transport: 'udp' }), batch(1, 1, 2, every), batch(1, 2, 2, floats(1), { transport: 'rudp' }),
    ];
    const old = join(dir, 'v1.db');
    writeVersion1(old, batches);
    // Read-only opening does not migrate: it says what to do.
    assert.throws(() => openSqliteStore(old, { readonly: true }), isStoreError('STORE_OPEN'));
    const migrated = openSqliteStore(old);
    const fresh = openSqliteStore(join(dir, 'v2.db'));
    t.after(async () => {
      await migrated.close();
      await fresh.close();
    });
    await fresh.commit(batches);
    assert.deepStrictEqual(await collect(migrated), await collect(fresh));
    assert.deepStrictEqual(await collect(migrated, { device: 1, since: BASE_OF(2) + 50 }), await collect(fresh, { device: 1, since: BASE_OF(2) + 50 }));
    assert.deepEqual(await migrated.totals(), await fresh.totals());
    assert.deepEqual(await migrated.commit([batch(2, 1, 3, floats(1)), batch(2, 1, 4, floats(1))]), ['duplicate', 'stored']);
    // Opened again, it is at the current version and keeps its data.
    await migrated.close();
    const again = openSqliteStore(old, { readonly: true });
    t.after(() => again.close());
    assert.equal((await collect(again)).length, EVERY_VALUE.length + 6);
  });

  it('keeps every value, device and count across close and reopen', async (t) => {
    const path = join(dirFor(t), 'store.db');
    const first = openSqliteStore(path);
    const readings: Reading[] = EVERY_VALUE.map((v, i) => ({ sensor: i, delta: i, ...v }));
    const record = device(3, { highestSeq: 0, configId: 5 });
    await first.saveDevice(record);
    await first.commit([batch(3, 1, 2, readings)]);
    const before = await collect(first);
    await first.close();

    const second = openSqliteStore(path);
    t.after(() => second.close());
    assert.deepStrictEqual(await collect(second), before);
    assert.deepEqual(await second.loadDevice(3), { ...record, highestSeq: 2 });
    assert.deepEqual(await second.totals(), [{ device: 3, transport: 'tcp', messages: 1, readings: EVERY_VALUE.length }]);
    assert.deepEqual(await second.commit([batch(3, 1, 2, floats(1))]), ['duplicate']);
  });

  it('lets a second connection read while the first writes, and duplicates hold across connections', async (t) => {
    const path = join(dirFor(t), 'store.db');
    const writer = openSqliteStore(path);
    const reader = openSqliteStore(path, { readonly: true });
    t.after(async () => {
      await reader.close();
      await writer.close();
    });
    await writer.commit([batch(1, 1, 2, floats(600))]);
    // Commit from the writer while the reader is part-way through a stream that spans pages.
    let seen = 0;
    for await (const _ of reader.readings()) {
      if (++seen === 1) await writer.commit([batch(1, 1, 3, floats(600))]);
    }
    assert.equal(seen, 1200);
    assert.deepEqual(await reader.totals(), [{ device: 1, transport: 'tcp', messages: 2, readings: 1200 }]);
    const other = openSqliteStore(path);
    t.after(() => other.close());
    assert.deepEqual(await other.commit([batch(1, 1, 3, floats(1)), batch(1, 1, 4, floats(1))]), ['duplicate', 'stored']);
    assert.equal((await collect(writer)).length, 1201);
  });

  it('takes turns with another writer on one session: each sees what the other stored', async (t) => {
    // A store remembers the highest seq it stored per session, to skip a seek; what another
    // connection commits meanwhile must not be missed.
    const path = join(dirFor(t), 'store.db');
    const a = openSqliteStore(path);
    const b = openSqliteStore(path);
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => batch(1, 1, from + i, floats(1)));
    assert.deepEqual(await a.commit(seqs(1, 5)), Array(5).fill('stored'));
    assert.deepEqual(await b.commit(seqs(6, 10)), Array(5).fill('stored'));
    assert.deepEqual(await a.commit(seqs(6, 11)), [...Array(5).fill('duplicate'), 'stored']);
    assert.deepEqual(await b.commit(seqs(11, 12)), ['duplicate', 'stored']);
    // A commit that failed stored nothing: 13 was rolled back, so it is new.
    await assert.rejects(a.commit([...seqs(13, 13), batch(1, 1, 14, [{ sensor: 1, delta: 0, type: 'int8', value: 300 }])]), isStoreError('STORE_WRITE'));
    assert.deepEqual(await a.commit(seqs(13, 13)), ['stored']);
    assert.deepEqual((await collect(b)).map((r) => r.seq), Array.from({ length: 13 }, (_, i) => i + 1));
  });

  it('gives no reading twice when a commit between pages splits a run already read', async (t) => {
    const path = join(dirFor(t), 'store.db');
    const store = openSqliteStore(path);
    t.after(() => store.close());
    // One full run: seqs 1 to MAX_RUN + 1 less one in the middle.
    const late = MAX_RUN / 2;
    const seqs = Array.from({ length: MAX_RUN + 1 }, (_, i) => i + 1).filter((q) => q !== late);
    await store.commit(seqs.map((q) => batch(1, 1, q, floats(1))));
    const seen: number[] = [];
    for await (const r of store.readings()) {
      // The late one makes the run MAX_RUN + 1 long: stored as two runs, the second of the last seq.
      if (seen.length === 0) assert.deepEqual(await store.commit([batch(1, 1, late, floats(1))]), ['stored']);
      seen.push(r.seq);
    }
    assert.deepEqual(seen, seqs);
    assert.deepEqual((await collect(store)).map((r) => r.seq), [...seqs.slice(0, late - 1), late, ...seqs.slice(late - 1)]);
  });

  it('stores seqs too far apart for one run exactly, and still finds their duplicates', async (t) => {
    const store = openSqliteStore(join(dirFor(t), 'store.db'));
    t.after(() => store.close());
    // 2^54 − 3 apart: their difference is no safe integer, so they go into two runs.
    const at = { baseTime: BASE_OF(1) };
    const lo = batch(1, 1, -Number.MAX_SAFE_INTEGER, floats(1), at);
    const hi = batch(1, 1, Number.MAX_SAFE_INTEGER - 1, floats(1), at);
    assert.deepEqual(await store.commit([lo, batch(1, 1, 7, floats(1), at), hi]), ['stored', 'stored', 'stored']);
    assert.deepEqual((await collect(store)).map((r) => r.seq), [lo.seq, 7, hi.seq]);
    assert.deepEqual(await store.commit([hi, batch(1, 1, 8, floats(1), at), lo]), ['duplicate', 'stored', 'duplicate']);
    // A base time a run cannot hold is refused, whole call and all.
    await assert.rejects(store.commit([batch(1, 1, 9, floats(1), { baseTime: 2 ** 51 })]), isStoreError('STORE_WRITE'));
    assert.equal((await collect(store)).length, 4);
  });

  it('migrates and reads the messages of negative device ids and sessions too', async (t) => {
    const dir = dirFor(t);
    const batches = [batch(-2, -5, -3, floats(2)), batch(-2, 1, 1, floats(1)), batch(3, 1, 1, floats(2))];
    const old = join(dir, 'v2.db');
    writeVersion2(old, batches);
    const migrated = openSqliteStore(old);
    t.after(() => migrated.close());
    assert.deepEqual((await migrated.totals()).map((x) => [x.device, x.readings]), [[-2, 3], [3, 2]]);
    assert.deepEqual((await collect(migrated)).map((r) => [r.device, r.session, r.seq]), [[-2, -5, -3], [-2, -5, -3], [-2, 1, 1], [3, 1, 1], [3, 1, 1]]);
    assert.deepEqual((await collect(migrated, { device: -2 })).length, 3);
  });

  it('commits on the same connection between pages of a stream', async (t) => {
    const store = openSqliteStore(join(dirFor(t), 'store.db'));
    t.after(() => store.close());
    await store.commit([batch(1, 1, 2, floats(255)), batch(1, 1, 3, floats(255)), batch(1, 1, 4, floats(255))]);
    let seen = 0;
    let seq = 10;
    for await (const _ of store.readings({ device: 1 })) {
      seen++;
      if (seen % 100 === 0) assert.deepEqual(await store.commit([batch(2, 1, seq++, floats(1))]), ['stored']);
    }
    assert.equal(seen, 765);
    assert.equal((await collect(store, { device: 2 })).length, 7);
  });

  it('shares one file between processes writing at once (busy timeout, migration once)', async (t) => {
    const path = join(dirFor(t), 'store.db');
    // Two child processes create and migrate the same new file at the same time, and write.
    const children = [runWriter(path, 11, 100), runWriter(path, 12, 100)];
    t.after(() => children.forEach((c) => c.kill()));
    // Meanwhile this process writes too, once the file exists.
    let parent: ReturnType<typeof openSqliteStore> | undefined;
    let seq = 2;
    let running = true;
    const finished = Promise.all(children.map((c) => c.done)).finally(() => (running = false));
    while (running) {
      if (parent === undefined) {
        try {
          parent = openSqliteStore(path, { readonly: true });
          await parent.close();
          parent = openSqliteStore(path);
        } catch {
          parent = undefined;
        }
      } else {
        await parent.commit([batch(13, 1, seq++, floats(10))]);
        await parent.totals();
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const r of await finished) assert.deepEqual([r.code, r.out, r.err], [0, 'done\n', '']);
    parent ??= openSqliteStore(path);
    t.after(() => parent?.close());
    const totals = await parent.totals();
    assert.deepEqual(totals.filter((x) => x.device !== 13), [
      { device: 11, transport: 'udp', messages: 100, readings: 1000 },
      { device: 12, transport: 'udp', messages: 100, readings: 1000 },
    ]);
    const mine = totals.find((x) => x.device === 13);
    assert.equal(mine?.messages ?? 0, seq - 2);
    const got = await collect(parent, { device: 12, limit: 3 });
    assert.deepEqual(got.map((r) => [r.seq, r.index, r.value]), [[2, 0, 20], [2, 1, 21], [2, 2, 22]]);
  });

  it('reads a cleanly closed file read-only without writing to it; writes reject with STORE_WRITE', async (t) => {
    const dir = dirFor(t);
    const path = join(dir, 'store.db');
    const w = openSqliteStore(path);
    await w.commit([batch(1, 1, 2, floats(3))]);
    await w.close();
    const r = openSqliteStore(path, { readonly: true });
    t.after(() => r.close());
    assert.equal((await collect(r)).length, 3);
    await assert.rejects(r.commit([batch(1, 1, 3, floats(1))]), isStoreError('STORE_WRITE'));
    await assert.rejects(r.saveDevice(device(1)), isStoreError('STORE_WRITE'));
    assert.equal((await collect(r)).length, 3);
  });

  it('refuses with STORE_OPEN what it cannot open as a store, creating nothing', async (t) => {
    const dir = dirFor(t);
    const open = isStoreError('STORE_OPEN');
    // A directory that does not exist.
    assert.throws(() => openSqliteStore(join(dir, 'no-such-dir', 'store.db')), open);
    assert.equal(existsSync(join(dir, 'no-such-dir')), false);
    // A missing file when it must exist, or read-only.
    assert.throws(() => openSqliteStore(join(dir, 'missing.db'), { readonly: true }), open);
    assert.throws(() => openSqliteStore(join(dir, 'missing.db'), { fileMustExist: true }), open);
    assert.equal(existsSync(join(dir, 'missing.db')), false);
    // A file that is not a database.
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'these are not the bytes of an SQLite database, but they are long enough to look like a header\n'.repeat(20));
    assert.throws(() => openSqliteStore(text), open);
    assert.throws(() => openSqliteStore(text, { readonly: true }), open);
    // A directory.
    mkdirSync(join(dir, 'a-dir'));
    assert.throws(() => openSqliteStore(join(dir, 'a-dir')), open);
    // Someone else's SQLite database, and one from a newer sensorwire.
    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE recipes (name TEXT)');
    db.close();
    assert.throws(() => openSqliteStore(other), open);
    assert.throws(() => openSqliteStore(other, { readonly: true }), open);
    const newer = join(dir, 'newer.db');
    await openSqliteStore(newer).close();
    const ndb = new Database(newer);
    ndb.pragma('user_version = 99');
    ndb.close();
    assert.throws(() => openSqliteStore(newer), open);
    assert.throws(() => openSqliteStore(newer, { readonly: true }), open);
    // An empty file is a new database (SQLite's view), but not one to read.
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    assert.throws(() => openSqliteStore(empty, { readonly: true }), open);
  });
});

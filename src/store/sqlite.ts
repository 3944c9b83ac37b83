// The embedded store: one SQLite file in WAL mode, shared by every server worker process and read
// by the `readings` command while they write. better-sqlite3 is synchronous, so each method does
// its work at once and returns a settled promise; a commit waits (blocking) at most the busy
// timeout for another process's write lock. The schema is in src/store/schema.ts: a commit stores
// the messages of a session as runs, rows of up to MAX_RUN of them (src/store/runs.ts), their
// readings packed (src/store/packed.ts); usually one run a session a commit.
//
// Checkpoints: a writable store turns SQLite's automatic checkpoint off on its connection (it ran
// inside a commit, on the event loop) and checkpoints from a worker thread instead
// (src/store/checkpointer.ts): a PASSIVE checkpoint every 200 ms, and a RESTART once the WAL
// passes 4096 pages, which bounds it. Should the worker fail, the automatic checkpoint comes back.
// close() stops the worker first, so that the store's own connection is the last one to close:
// SQLite then checkpoints everything and removes the WAL.
//
// Durability: WAL with synchronous=NORMAL, as before the worker. A commit has returned once its
// pages are written to the WAL file (handed to the operating system, not yet fsynced). So
// everything the server has acknowledged survives the server process dying, SIGKILL included; a
// crash of the operating system or a power loss may lose the transactions committed since the
// last checkpoint (a checkpoint syncs the WAL before it copies it: now at most about 200 ms of
// commits, where it was up to 1000 pages), never corrupt the file. synchronous=FULL would fsync
// the WAL at every commit, making each ACK survive a power loss too, at the price of one fsync per
// transaction (group commit shares it among the messages that arrived together).
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SensorSpec } from '../protocol/types.ts';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.ts';
import { StoreError } from './errors.ts';
import { SCHEMA_VERSION, migrate, schemaVersion } from './schema.ts';
import type {
  CommitOutcome, DeviceRecord, ReadingsBatch, ReadingsQuery, Store, StoredReading, Totals, TransportName,
} from './types.ts';
import { checkDelivery, checkTransport, checkValueType } from './names.ts';
import { Unpacker, isPacked, packReadings } from './packed.ts';
import { MAX_RUN, RunWriter, runMessages, type RunMessage } from './runs.ts';
import { ValueCellError } from './values.ts';

export interface SqliteStoreOptions {
  /**
   * Open for reading only (the `readings` command, while servers write): the file must exist and
   * already hold the current schema; nothing is migrated or written (write methods reject with
   * STORE_WRITE).
   */
  readonly readonly?: boolean;
  /** Refuse (STORE_OPEN) to create a file that does not exist. Implied by `readonly`. */
  readonly fileMustExist?: boolean;
  /** How long to wait for another connection's lock before failing, ms. Default 10 s. */
  readonly busyTimeoutMs?: number;
  /**
   * Writable file stores: checkpoint the WAL from a worker thread (the default; its timing can be
   * set), or `false` for SQLite's automatic checkpoint inside commits.
   */
  readonly checkpointWorker?: CheckpointerOptions | false;
}

/** SQLite's own default, put back if the checkpoint worker fails. */
const AUTO_CHECKPOINT_PAGES = 1000;

/** Devices whose highest stored seq a store keeps in memory before it starts again. */
const MAX_KNOWN = 100_000;

/** Runs fetched per query while streaming; the connection is free between pages. */
const PAGE = 8;

interface DeviceRow {
  device: number; session: number; model: string; firmware: string; interval_ms: number;
  transport: string; highest_seq: number; config_id: number; first_seen: number; last_seen: number;
}
interface SensorRow { id: number; type: string; delivery: string; unit: string; name: string }
interface RunRow { device: number; session: number; first_seq: number; last_seq: number; body: Buffer }
interface RunBounds { id: number; first_seq: number; last_seq: number }
interface StoredRun { body: Buffer; min_ts: number; max_ts: number }
interface NameRow { id: number; name: string; unit: string }
type Cursor = [device: number, session: number, firstSeq: number];

const SELECT_RUNS = 'SELECT device, session, first_seq, last_seq, body FROM runs';
const ORDER_PAGE = 'ORDER BY device, session, first_seq LIMIT ?';

/** A message on its way into a run: its readings packed, and their earliest and latest time. */
interface RunItem extends RunMessage {
  readonly minTs: number;
  readonly maxTs: number;
}

function compareBatches(a: ReadingsBatch, b: ReadingsBatch): number {
  return a.deviceId - b.deviceId || a.session - b.session || a.seq - b.seq;
}

/** Positions of `batches` in (device, session, seq) order; equal keys keep the order given. */
function keyOrder(batches: readonly ReadingsBatch[]): number[] {
  const order = Array.from({ length: batches.length }, (_, i) => i);
  for (let i = 1; i < batches.length; i++) {
    if (compareBatches(batches[i - 1]!, batches[i]!) > 0) {
      order.sort((x, y) => compareBatches(batches[x]!, batches[y]!) || x - y);
      break;
    }
  }
  return order;
}

function newItem(b: ReadingsBatch): RunItem {
  if (!Number.isSafeInteger(b.seq)) throw new ValueCellError(`a seq must be a whole number, not ${String(b.seq)}`);
  const r = b.readings;
  const p = isPacked(r) ? r : packReadings(b.baseTime, r);
  return {
    seq: b.seq, transport: b.transport, baseTime: b.baseTime, receivedAt: b.receivedAt,
    count: p.count, readings: p.bytes, minTs: p.minTs, maxTs: p.maxTs,
  };
}

/**
 * A stored message, to be written again into a merged run. The run's time bounds stand for each of
 * its messages' (wider than exact, which is safe: `since` filters each reading too), so that a
 * merge copies readings without decoding them.
 */
function storedItem(m: RunMessage, minTs: number, maxTs: number): RunItem {
  return { ...m, minTs, maxTs };
}

/** Whether `next` can follow `prev` in one run: the body holds the difference of their seqs. */
function followsInRun(prev: RunItem, next: RunItem): boolean {
  return Number.isSafeInteger(next.seq - prev.seq);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Opens (creating and migrating unless read-only) the database at `path`. Throws STORE_OPEN. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const readonly = options.readonly ?? false;
  const mustExist = readonly || (options.fileMustExist ?? false);
  if (mustExist && path !== ':memory:' && !existsSync(path)) {
    throw new StoreError('STORE_OPEN', `no database file at ${path}`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: mustExist, timeout: options.busyTimeoutMs ?? 10_000 });
    if (readonly) {
      // Read-only by query_only rather than by SQLite's read-only open: SQLite then still tidies
      // up the -wal and -shm files when this is the last connection to close.
      db.pragma('query_only = ON');
      // Reading the version is the first access to the file: a non-database fails here.
      const version = schemaVersion(db);
      if (version !== SCHEMA_VERSION) {
        throw new Error(version === 0
          ? 'it holds no sensorwire data (schema version 0)'
          : version < SCHEMA_VERSION
            ? `it is at schema version ${version}; this sensorwire reads version ${SCHEMA_VERSION} (opening it for writing, as the server does, migrates it)`
            : `it is at schema version ${version}; this sensorwire reads version ${SCHEMA_VERSION}`);
      }
    } else {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db);
    }
    const store = new SqliteStore(db);
    const worker = options.checkpointWorker ?? {};
    if (!readonly && worker !== false && !db.memory) {
      const open = db;
      open.pragma('wal_autocheckpoint = 0');
      store.checkpointer = new Checkpointer(open.name, worker, () => {
        // The WAL must not grow without bound: SQLite checkpoints inside commits again.
        if (open.open) open.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      });
    }
    return store;
  } catch (e) {
    db?.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('STORE_OPEN', `cannot open the database ${path}: ${message(e)}`, { cause: e });
  }
}

export class SqliteStore implements Store {
  #db: Database.Database | undefined;
  readonly #insertRun;
  readonly #runAtOrBefore;
  readonly #runBody;
  readonly #deleteRun;
  readonly #allRuns;
  readonly #runs = new RunWriter();
  readonly #dataVersion;
  /**
   * The highest seq stored in a device's latest session seen here, known from this connection's
   * own commits, so that a commit of seqs above it needs no seek. Valid while no other connection
   * has committed (PRAGMA data_version has not moved). After a commit that failed it may be too
   * high, which costs a seek, never a duplicate stored.
   */
  readonly #known = new Map<number, { session: number; highest: number }>();
  #knownVersion: unknown;
  readonly #raiseSeq;
  readonly #upsertDevice;
  readonly #deleteSensors;
  readonly #insertSensor;
  readonly #selectDevice;
  readonly #highestStored;
  readonly #selectSensors;
  readonly #selectNames;
  readonly #setConfig;
  readonly #pages;
  readonly #commitTx;
  readonly #saveTx;
  /** The worker that checkpoints the WAL (writable file stores). */
  checkpointer: Checkpointer | undefined;

  /** Use openSqliteStore; this takes an open, migrated connection and owns it. */
  constructor(db: Database.Database) {
    this.#db = db;
    this.#insertRun = db.prepare<[number, number, number, number, number, number, number, Uint8Array]>(
      'INSERT INTO runs (device, session, first_seq, last_seq, messages, min_ts, max_ts, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // The one run that can hold `seq`: runs of a session do not overlap (src/store/runs.ts).
    this.#runAtOrBefore = db.prepare<[number, number, number], RunBounds>(
      'SELECT id, first_seq, last_seq FROM runs WHERE device = ? AND session = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1',
    );
    this.#runBody = db.prepare<[number], StoredRun>('SELECT body, min_ts, max_ts FROM runs WHERE id = ?');
    this.#deleteRun = db.prepare<[number]>('DELETE FROM runs WHERE id = ?');
    this.#allRuns = db.prepare<[], RunRow>(SELECT_RUNS);
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#raiseSeq = db.prepare<[number, number, number]>(
      'UPDATE devices SET highest_seq = max(highest_seq, ?) WHERE device = ? AND session = ?',
    );
    // A commit does not raise devices.highest_seq: that would write the devices table's page into
    // every transaction (about a quarter of a small commit's cost). Loading a device takes the
    // highest seq stored for its session from its last run instead: a seek of runs_key, one row.
    this.#highestStored = db.prepare<[number, number], number>(
      'SELECT last_seq FROM runs WHERE device = ? AND session = ? ORDER BY first_seq DESC LIMIT 1',
    ).pluck();
    this.#upsertDevice = db.prepare<[number, number, string, string, number, string, number, number, number, number]>(
      `INSERT OR REPLACE INTO devices
         (device, session, model, firmware, interval_ms, transport, highest_seq, config_id, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#deleteSensors = db.prepare<[number, number]>('DELETE FROM sensors WHERE device = ? AND session = ?');
    this.#insertSensor = db.prepare<[number, number, number, number, string, string, string, string]>(
      'INSERT INTO sensors (device, session, id, pos, type, delivery, unit, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#selectDevice = db.prepare<[number], DeviceRow>('SELECT * FROM devices WHERE device = ?');
    this.#selectSensors = db.prepare<[number, number], SensorRow>(
      'SELECT id, type, delivery, unit, name FROM sensors WHERE device = ? AND session = ? ORDER BY pos',
    );
    this.#selectNames = db.prepare<[number, number], NameRow>('SELECT id, name, unit FROM sensors WHERE device = ? AND session = ?');
    this.#setConfig = db.prepare<[number, number]>('UPDATE devices SET config_id = ? WHERE device = ?');
    // One page query per combination of filters, each a range of the runs_key index; `since`
    // skips whole runs by their latest reading, the rest is filtered per reading.
    const page = (where: string): Database.Statement<unknown[], RunRow> =>
      db.prepare<unknown[], RunRow>(`${SELECT_RUNS} WHERE ${where} ${ORDER_PAGE}`);
    const after = '(device, session, first_seq) > (?, ?, ?)';
    const afterIn = 'device = ? AND (session, first_seq) > (?, ?)';
    this.#pages = {
      all: page(after),
      since: page(`${after} AND max_ts >= ?`),
      device: page(afterIn),
      deviceSince: page(`${afterIn} AND max_ts >= ?`),
    };

    this.#commitTx = db.transaction((batches: readonly ReadingsBatch[]): CommitOutcome[] => {
      // Another process or connection may have stored runs since: what is known here is stale.
      const version = this.#dataVersion.get();
      if (version !== this.#knownVersion || this.#known.size > MAX_KNOWN) {
        this.#known.clear();
        this.#knownVersion = version;
      }
      const outcomes: CommitOutcome[] = new Array<CommitOutcome>(batches.length);
      const order = keyOrder(batches);
      for (let from = 0; from < order.length;) {
        const first = batches[order[from]!]!;
        let to = from + 1;
        while (to < order.length) {
          const b = batches[order[to]!]!;
          if (b.deviceId !== first.deviceId || b.session !== first.session) break;
          to++;
        }
        this.#commitSession(batches, order.slice(from, to), outcomes);
        from = to;
      }
      return outcomes;
    });

    this.#saveTx = db.transaction((r: DeviceRecord): void => {
      this.#upsertDevice.run(
        r.deviceId, r.session, r.model, r.firmware, r.intervalMs, checkTransport(r.transport),
        r.highestSeq, r.configId, r.firstSeen, r.lastSeen,
      );
      this.#deleteSensors.run(r.deviceId, r.session);
      r.sensors.forEach((s, pos) => {
        this.#insertSensor.run(r.deviceId, r.session, s.id, pos, checkValueType(s.type), checkDelivery(s.delivery), s.unit, s.name);
      });
    });
  }

  #open(): Database.Database {
    if (this.#db === undefined) throw new StoreError('STORE_CLOSED', 'the store is closed');
    return this.#db;
  }

  /** Runs a write; any failure (SQLite's or a value's) becomes STORE_WRITE, after the rollback. */
  #write<T>(what: string, fn: () => T): T {
    this.#open();
    try {
      return fn();
    } catch (e) {
      throw new StoreError('STORE_WRITE', `${what} failed: ${message(e)}`, { cause: e });
    }
  }

  #read<T>(what: string, fn: () => T): T {
    this.#open();
    try {
      return fn();
    } catch (e) {
      throw new StoreError('STORE_READ', `${what} failed: ${message(e)}`, { cause: e });
    }
  }

  async saveDevice(record: DeviceRecord): Promise<void> {
    this.#write(`saving device ${record.deviceId}`, () => this.#saveTx.immediate(record));
  }

  async loadDevice(deviceId: number): Promise<DeviceRecord | undefined> {
    return this.#read(`loading device ${deviceId}`, () => {
      const row = this.#selectDevice.get(deviceId);
      if (row === undefined) return undefined;
      const sensors: SensorSpec[] = this.#selectSensors.all(deviceId, row.session).map((s) => ({
        id: s.id, type: checkValueType(s.type), delivery: checkDelivery(s.delivery), unit: s.unit, name: s.name,
      }));
      return {
        deviceId: row.device, session: row.session, model: row.model, firmware: row.firmware,
        intervalMs: row.interval_ms, sensors, transport: checkTransport(row.transport),
        highestSeq: Math.max(row.highest_seq, this.#highestStored.get(deviceId, row.session) ?? 0), configId: row.config_id, firstSeen: row.first_seen, lastSeen: row.last_seen,
      };
    });
  }

  async noteSeq(deviceId: number, session: number, seq: number): Promise<void> {
    this.#write(`noting seq ${seq} of device ${deviceId}`, () => this.#raiseSeq.run(seq, deviceId, session));
  }

  async noteConfig(deviceId: number, configId: number): Promise<void> {
    this.#write(`noting config ${configId} of device ${deviceId}`, () => this.#setConfig.run(configId, deviceId));
  }

  async commit(batches: readonly ReadingsBatch[]): Promise<CommitOutcome[]> {
    if (batches.length === 0) {
      this.#open();
      return [];
    }
    // IMMEDIATE: take the write lock up front, waiting for other writers with the busy timeout.
    return this.#write(`committing ${batches.length} batches`, () => this.#commitTx.immediate(batches));
  }

  /**
   * Stores one session's batches (`order`: their positions in (seq, given) order) and sets their
   * outcomes. Usually they are all above the highest seq stored in the session (known from this
   * connection's last commit, or one seek), or at least nothing is stored in their range (another
   * seek), and they become new runs. Otherwise each finds the run that could hold it: a seq
   * already there is a duplicate, the others are merged into that run (rewritten), and those
   * that fall between runs become runs of their own. Either way the runs of the session still do
   * not overlap.
   */
  #commitSession(batches: readonly ReadingsBatch[], order: readonly number[], outcomes: CommitOutcome[]): void {
    const fresh: number[] = [];
    let last: number | undefined;
    for (const i of order) {
      const seq = batches[i]!.seq;
      if (seq === last) {
        outcomes[i] = 'duplicate';
        continue;
      }
      last = seq;
      fresh.push(i);
    }
    const { deviceId, session } = batches[fresh[0]!]!;
    const lo = batches[fresh[0]!]!.seq;
    const hi = batches[fresh[fresh.length - 1]!]!.seq;
    const known = this.#known.get(deviceId);
    // The highest seq stored in the session: from memory, or one seek.
    const highest = (known?.session === session ? known.highest : undefined) ?? this.#highestStored.get(deviceId, session) ?? -Infinity;
    this.#known.set(deviceId, { session, highest: Math.max(highest, hi) });
    if (lo > highest || this.#nothingStoredIn(deviceId, session, lo, hi)) {
      this.#writeRuns(deviceId, session, fresh.map((i) => newItem(batches[i]!)));
      for (const i of fresh) outcomes[i] = 'stored';
      return;
    }
    // Batches that fall in the same run, or the same gap between runs, are next to each other.
    let place: { run: RunBounds | undefined; inside: boolean; batches: number[] } | undefined;
    const places: NonNullable<typeof place>[] = [];
    for (const i of fresh) {
      const seq = batches[i]!.seq;
      const run = this.#runAtOrBefore.get(deviceId, session, seq);
      const inside = run !== undefined && run.last_seq >= seq;
      if (place === undefined || place.run?.id !== run?.id || place.inside !== inside) {
        place = { run, inside, batches: [] };
        places.push(place);
      }
      place.batches.push(i);
    }
    for (const p of places) {
      if (!p.inside || p.run === undefined) {
        this.#writeRuns(deviceId, session, p.batches.map((i) => newItem(batches[i]!)));
        for (const i of p.batches) outcomes[i] = 'stored';
        continue;
      }
      const run = this.#runBody.get(p.run.id)!;
      const stored = [...runMessages(p.run.first_seq, run.body)];
      const old = (m: RunMessage): RunItem => storedItem(m, run.min_ts, run.max_ts);
      const merged: RunItem[] = [];
      let k = 0;
      for (const i of p.batches) {
        const b = batches[i]!;
        while (k < stored.length && stored[k]!.seq < b.seq) merged.push(old(stored[k++]!));
        if (k < stored.length && stored[k]!.seq === b.seq) {
          outcomes[i] = 'duplicate';
        } else {
          merged.push(newItem(b));
          outcomes[i] = 'stored';
        }
      }
      if (merged.length === k) continue; // every one a duplicate: the run stays as it is
      while (k < stored.length) merged.push(old(stored[k++]!));
      this.#deleteRun.run(p.run.id);
      this.#writeRuns(deviceId, session, merged);
    }
  }

  /** Whether no run of the session holds a seq in [lo, hi] (late messages may fill a gap). */
  #nothingStoredIn(deviceId: number, session: number, lo: number, hi: number): boolean {
    const below = this.#runAtOrBefore.get(deviceId, session, hi);
    return below === undefined || below.last_seq < lo;
  }

  /**
   * Inserts `items` (increasing seqs, none stored) as runs of at most MAX_RUN messages; a run also
   * ends where the next seq is too far from the last for the body to hold the difference.
   */
  #writeRuns(deviceId: number, session: number, items: readonly RunItem[]): void {
    const w = this.#runs;
    for (let from = 0; from < items.length;) {
      const first = items[from]!;
      w.start(first.seq);
      let minTs = first.minTs;
      let maxTs = first.maxTs;
      let to = from;
      do {
        const m = items[to]!;
        w.add(m.seq, m.transport, m.baseTime, m.receivedAt, m.count, m.readings);
        if (m.minTs < minTs) minTs = m.minTs;
        if (m.maxTs > maxTs) maxTs = m.maxTs;
        to++;
      } while (to < items.length && to - from < MAX_RUN && followsInRun(items[to - 1]!, items[to]!));
      this.#insertRun.run(deviceId, session, first.seq, items[to - 1]!.seq, to - from, minTs, maxTs, w.body());
      from = to;
    }
  }

  async *readings(query: ReadingsQuery = {}): AsyncGenerator<StoredReading, void, undefined> {
    this.#open();
    const { device, since, limit } = query;
    let left = limit ?? Infinity;
    // -Infinity is below every integer SQLite holds (the store takes negative ids and seqs).
    let cursor: Cursor = [-Infinity, -Infinity, -Infinity];
    // The highest seq read so far of the session being read. A commit between pages may merge a
    // late message into a run already read, and a run that grows past MAX_RUN is split: its tail
    // then starts past the cursor, and what of it was read before must not be given again.
    let through: { device: number; session: number; seq: number } | undefined;
    // The catalogue of the (device, session) being read: messages come in that order.
    let names: { device: number; session: number; byId: Map<number, NameRow> } | undefined;
    while (left > 0) {
      // Each page is its own short read, so a slow consumer neither holds the connection (a commit
      // may run between pages) nor a read snapshot that would keep the WAL from being checkpointed.
      const rows = this.#read('reading readings', () => {
        const [d, s, q] = cursor;
        if (device === undefined) {
          return since === undefined ? this.#pages.all.all(d, s, q, PAGE) : this.#pages.since.all(d, s, q, since, PAGE);
        }
        const start = device === d ? [s, q] : [-Infinity, -Infinity];
        return since === undefined
          ? this.#pages.device.all(device, ...start, PAGE)
          : this.#pages.deviceSince.all(device, ...start, since, PAGE);
      });
      for (const row of rows) {
        if (names === undefined || names.device !== row.device || names.session !== row.session) {
          const byId = new Map(this.#read('reading a catalogue', () => this.#selectNames.all(row.device, row.session)).map((n) => [n.id, n]));
          names = { device: row.device, session: row.session, byId };
        }
        let seq = row.first_seq;
        let index = 0;
        try {
          const skipTo = through?.device === row.device && through.session === row.session ? through.seq : -Infinity;
          through = { device: row.device, session: row.session, seq: Math.max(skipTo, row.last_seq) };
          for (const m of runMessages(row.first_seq, row.body)) {
            seq = m.seq;
            if (seq <= skipTo) continue;
            const unpacker = new Unpacker(m.readings);
            for (index = 0; !unpacker.done; index++) {
              const r = unpacker.next(m.baseTime);
              if (since !== undefined && r.ts < since) continue;
              const spec = names.byId.get(r.sensor);
              yield {
                device: row.device, session: row.session, seq: m.seq, index, sensor: r.sensor,
                name: spec?.name ?? '', unit: spec?.unit ?? '', ...r.value,
                ts: r.ts, receivedAt: m.receivedAt, transport: m.transport,
              };
              if (--left <= 0) return;
            }
          }
        } catch (e) {
          if (!(e instanceof ValueCellError)) throw e;
          throw new StoreError('STORE_READ', `reading ${row.device}/${row.session}/${seq}/${index}: ${message(e)}`, { cause: e });
        }
      }
      // Only an empty page ends the stream: runs committed while it ran are read too.
      const last = rows[rows.length - 1];
      if (last === undefined) return;
      cursor = [last.device, last.session, last.first_seq];
    }
  }

  async totals(): Promise<Totals[]> {
    return this.#read('counting readings', () => {
      const counts = new Map<string, { device: number; transport: TransportName; messages: number; readings: number }>();
      for (const row of this.#allRuns.iterate()) {
        for (const m of runMessages(row.first_seq, row.body)) {
          const key = `${row.device}/${m.transport}`;
          let t = counts.get(key);
          if (t === undefined) counts.set(key, (t = { device: row.device, transport: m.transport, messages: 0, readings: 0 }));
          t.messages++;
          t.readings += m.count;
        }
      }
      return [...counts.values()].sort((a, b) => a.device - b.device || (a.transport < b.transport ? -1 : a.transport > b.transport ? 1 : 0));
    });
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    // The worker's connection goes first: the last one to close checkpoints and removes the WAL.
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    db?.close();
  }
}

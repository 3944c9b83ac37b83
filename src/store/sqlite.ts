// The embedded store: one SQLite file in WAL mode, shared by every server worker process and read
// by the `readings` command while they write. better-sqlite3 is synchronous, so each method does
// its work at once and returns a settled promise; a commit waits (blocking) at most the busy
// timeout for another process's write lock. The schema is in src/store/schema.ts: one row per
// message, its readings packed into a BLOB (src/store/packed.ts).
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
import { Unpacker, isPacked, pack } from './packed.ts';

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

/** Messages fetched per query while streaming; the connection is free between pages. */
const PAGE = 256;

interface DeviceRow {
  device: number; session: number; model: string; firmware: string; interval_ms: number;
  transport: string; highest_seq: number; config_id: number; first_seen: number; last_seen: number;
}
interface SensorRow { id: number; type: string; delivery: string; unit: string; name: string }
interface MessageRow {
  device: number; session: number; seq: number; transport: string; base_time: number; received_at: number;
  readings: Buffer;
}
interface NameRow { id: number; name: string; unit: string }
interface TotalsRow { device: number; transport: string; messages: number; readings: number }
type Cursor = [device: number, session: number, seq: number];

const SELECT_MESSAGES = 'SELECT device, session, seq, transport, base_time, received_at, readings FROM messages';
const ORDER_PAGE = 'ORDER BY device, session, seq LIMIT ?';

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
  readonly #insertMessage;
  readonly #raiseSeq;
  readonly #upsertDevice;
  readonly #deleteSensors;
  readonly #insertSensor;
  readonly #selectDevice;
  readonly #highestStored;
  readonly #selectSensors;
  readonly #selectNames;
  readonly #setConfig;
  readonly #totals;
  readonly #pages;
  readonly #commitTx;
  readonly #saveTx;
  /** The worker that checkpoints the WAL (writable file stores). */
  checkpointer: Checkpointer | undefined;

  /** Use openSqliteStore; this takes an open, migrated connection and owns it. */
  constructor(db: Database.Database) {
    this.#db = db;
    // The conflict target names the duplicate check only: any other constraint still fails.
    this.#insertMessage = db.prepare<[number, number, number, string, number, number, number, number, number, Uint8Array]>(
      `INSERT INTO messages (device, session, seq, transport, base_time, received_at, count, min_ts, max_ts, readings)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device, session, seq) DO NOTHING`,
    );
    this.#raiseSeq = db.prepare<[number, number, number]>(
      'UPDATE devices SET highest_seq = max(highest_seq, ?) WHERE device = ? AND session = ?',
    );
    // A commit does not raise devices.highest_seq: that would write the devices table's page into
    // every transaction (about a quarter of a small commit's cost). Loading a device takes the
    // highest seq stored for its session from the messages_key index instead, one seek.
    this.#highestStored = db.prepare<[number, number], number | null>('SELECT max(seq) FROM messages WHERE device = ? AND session = ?').pluck();
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
    this.#totals = db.prepare<[], TotalsRow>(
      `SELECT device, transport, count(*) AS messages, sum(count) AS readings
       FROM messages GROUP BY device, transport ORDER BY device, transport`,
    );
    // One page query per combination of filters, each a range of the messages_key index;
    // `since` skips whole messages by their latest reading, the rest is filtered per reading.
    const page = (where: string): Database.Statement<unknown[], MessageRow> =>
      db.prepare<unknown[], MessageRow>(`${SELECT_MESSAGES} WHERE ${where} ${ORDER_PAGE}`);
    const after = '(device, session, seq) > (?, ?, ?)';
    const afterIn = 'device = ? AND (session, seq) > (?, ?)';
    this.#pages = {
      all: page(after),
      since: page(`${after} AND max_ts >= ?`),
      device: page(afterIn),
      deviceSince: page(`${afterIn} AND max_ts >= ?`),
    };

    this.#commitTx = db.transaction((batches: readonly ReadingsBatch[]): CommitOutcome[] => {
      const outcomes: CommitOutcome[] = new Array<CommitOutcome>(batches.length);
      for (let i = 0; i < batches.length; i++) {
        const b = batches[i]!;
        const r = b.readings;
        // Packed by the caller (the server does, as a message arrives), or here.
        const p = isPacked(r) ? r : pack(b.baseTime, r);
        const n = isPacked(r) ? r.count : r.length;
        const info = this.#insertMessage.run(b.deviceId, b.session, b.seq, b.transport, b.baseTime, b.receivedAt, n, p.minTs, p.maxTs, p.bytes);
        outcomes[i] = info.changes === 0 ? 'duplicate' : 'stored';
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

  async *readings(query: ReadingsQuery = {}): AsyncGenerator<StoredReading, void, undefined> {
    this.#open();
    const { device, since, limit } = query;
    let left = limit ?? Infinity;
    let cursor: Cursor = [-1, -1, -1];
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
        const start = device === d ? [s, q] : [-1, -1];
        return since === undefined
          ? this.#pages.device.all(device, ...start, PAGE)
          : this.#pages.deviceSince.all(device, ...start, since, PAGE);
      });
      for (const row of rows) {
        if (names === undefined || names.device !== row.device || names.session !== row.session) {
          const byId = new Map(this.#read('reading a catalogue', () => this.#selectNames.all(row.device, row.session)).map((n) => [n.id, n]));
          names = { device: row.device, session: row.session, byId };
        }
        const transport = this.#transport(row);
        const unpacker = new Unpacker(row.readings);
        for (let index = 0; !unpacker.done && left > 0; index++) {
          let r;
          try {
            r = unpacker.next(row.base_time);
          } catch (e) {
            throw new StoreError('STORE_READ', `reading ${row.device}/${row.session}/${row.seq}/${index}: ${message(e)}`, { cause: e });
          }
          if (since !== undefined && r.ts < since) continue;
          const spec = names.byId.get(r.sensor);
          left--;
          yield {
            device: row.device, session: row.session, seq: row.seq, index, sensor: r.sensor,
            name: spec?.name ?? '', unit: spec?.unit ?? '', ...r.value,
            ts: r.ts, receivedAt: row.received_at, transport,
          };
        }
        if (left <= 0) return;
      }
      // Only an empty page ends the stream: messages committed while it ran are read too.
      const last = rows[rows.length - 1];
      if (last === undefined) return;
      cursor = [last.device, last.session, last.seq];
    }
  }

  #transport(row: MessageRow): TransportName {
    try {
      return checkTransport(row.transport);
    } catch (e) {
      throw new StoreError('STORE_READ', `message ${row.device}/${row.session}/${row.seq}: ${message(e)}`, { cause: e });
    }
  }

  async totals(): Promise<Totals[]> {
    return this.#read('counting readings', () =>
      this.#totals.all().map((t) => ({
        device: t.device, transport: checkTransport(t.transport), messages: t.messages, readings: t.readings,
      })),
    );
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

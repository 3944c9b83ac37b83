// The embedded store: one SQLite file in WAL mode, shared by every server worker process and read
// by the `readings` command while they write. better-sqlite3 is synchronous, so each method does
// its work at once and returns a settled promise; a commit waits (blocking) at most the busy
// timeout for another process's write lock.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SensorSpec, Value } from '../protocol/types.ts';
import { StoreError } from './errors.ts';
import { SCHEMA_VERSION, migrate, schemaVersion } from './schema.ts';
import type {
  CommitOutcome, DeviceRecord, ReadingsBatch, ReadingsQuery, Store, StoredReading, Totals,
} from './types.ts';
import { checkDelivery, checkTransport, checkValueType } from './names.ts';
import { fromCell, toCell, typeCode, typeName, type Cell } from './values.ts';

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
}

/** Readings fetched per query while streaming; the connection is free between pages. */
const PAGE = 512;

interface DeviceRow {
  device: number; session: number; model: string; firmware: string; interval_ms: number;
  transport: string; highest_seq: number; config_id: number; first_seen: number; last_seen: number;
}
interface SensorRow { id: number; type: string; delivery: string; unit: string; name: string }
interface ReadingRow {
  device: bigint; session: bigint; seq: bigint; idx: bigint; sensor: bigint; type: bigint;
  value: Cell; ts: bigint; name: string; unit: string; transport: string; received_at: bigint;
}
interface TotalsRow { device: number; transport: string; messages: number; readings: number }
type Cursor = [device: bigint, session: bigint, seq: bigint, idx: bigint];

const SELECT_READINGS = `
  SELECT r.device, r.session, r.seq, r.idx, r.sensor, r.type, r.value, r.ts,
         coalesce(s.name, '') AS name, coalesce(s.unit, '') AS unit, m.transport, m.received_at
  FROM readings r
  JOIN messages m ON m.device = r.device AND m.session = r.session AND m.seq = r.seq
  LEFT JOIN sensors s ON s.device = r.device AND s.session = r.session AND s.id = r.sensor`;
const ORDER_PAGE = 'ORDER BY r.device, r.session, r.seq, r.idx LIMIT ?';

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
          : `it is at schema version ${version}; this sensorwire reads version ${SCHEMA_VERSION}`);
      }
    } else {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db);
    }
    return new SqliteStore(db);
  } catch (e) {
    db?.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('STORE_OPEN', `cannot open the database ${path}: ${message(e)}`, { cause: e });
  }
}

export class SqliteStore implements Store {
  #db: Database.Database | undefined;
  readonly #insertMessage;
  readonly #insertReading;
  readonly #raiseSeq;
  readonly #upsertDevice;
  readonly #deleteSensors;
  readonly #insertSensor;
  readonly #selectDevice;
  readonly #selectSensors;
  readonly #setConfig;
  readonly #totals;
  readonly #pages;
  readonly #commitTx;
  readonly #saveTx;

  /** Use openSqliteStore; this takes an open, migrated connection and owns it. */
  constructor(db: Database.Database) {
    this.#db = db;
    this.#insertMessage = db.prepare<[number, number, number, string, number, number, number]>(
      `INSERT OR IGNORE INTO messages (device, session, seq, transport, base_time, received_at, readings)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertReading = db.prepare<[number, number, number, number, number, number, Cell, number]>(
      'INSERT INTO readings (device, session, seq, idx, sensor, type, value, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#raiseSeq = db.prepare<[number, number, number]>(
      'UPDATE devices SET highest_seq = max(highest_seq, ?) WHERE device = ? AND session = ?',
    );
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
    this.#setConfig = db.prepare<[number, number]>('UPDATE devices SET config_id = ? WHERE device = ?');
    this.#totals = db.prepare<[], TotalsRow>(
      `SELECT device, transport, count(*) AS messages, sum(readings) AS readings
       FROM messages GROUP BY device, transport ORDER BY device, transport`,
    );
    // One page query per combination of filters, each an index range on the primary key.
    const page = (where: string): Database.Statement<unknown[], ReadingRow> =>
      db.prepare<unknown[], ReadingRow>(`${SELECT_READINGS} WHERE ${where} ${ORDER_PAGE}`).safeIntegers(true);
    const after = '(r.device, r.session, r.seq, r.idx) > (?, ?, ?, ?)';
    const afterIn = 'r.device = ? AND (r.session, r.seq, r.idx) > (?, ?, ?)';
    this.#pages = {
      all: page(after),
      since: page(`${after} AND r.ts >= ?`),
      device: page(afterIn),
      deviceSince: page(`${afterIn} AND r.ts >= ?`),
    };

    this.#commitTx = db.transaction((batches: readonly ReadingsBatch[]): CommitOutcome[] => {
      const outcomes: CommitOutcome[] = [];
      // Highest stored seq per device and session, applied once per device at the end.
      const highest = new Map<string, { device: number; session: number; seq: number }>();
      for (const b of batches) {
        const n = b.readings.length;
        const info = this.#insertMessage.run(b.deviceId, b.session, b.seq, b.transport, b.baseTime, b.receivedAt, n);
        if (info.changes === 0) {
          outcomes.push('duplicate');
          continue;
        }
        for (let i = 0; i < n; i++) {
          const r = b.readings[i];
          if (r === undefined) throw new TypeError(`batch ${b.deviceId}/${b.session}/${b.seq} has a hole at reading ${i}`);
          const cell = toCell(r);
          this.#insertReading.run(b.deviceId, b.session, b.seq, i, r.sensor, typeCode(r.type), cell, b.baseTime + r.delta);
        }
        const key = `${b.deviceId}/${b.session}`;
        const top = highest.get(key);
        if (top === undefined) highest.set(key, { device: b.deviceId, session: b.session, seq: b.seq });
        else if (b.seq > top.seq) top.seq = b.seq;
        outcomes.push('stored');
      }
      for (const { device, session, seq } of highest.values()) this.#raiseSeq.run(seq, device, session);
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
        highestSeq: row.highest_seq, configId: row.config_id, firstSeen: row.first_seen, lastSeen: row.last_seen,
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
    let cursor: Cursor = [-1n, -1n, -1n, -1n];
    while (left > 0) {
      const size = Math.min(PAGE, left);
      // Each page is its own short read, so a slow consumer neither holds the connection (a commit
      // may run between pages) nor a read snapshot that would keep the WAL from being checkpointed.
      const rows = this.#read('reading readings', () => {
        const [d, s, q, i] = cursor;
        if (device === undefined) {
          return since === undefined ? this.#pages.all.all(d, s, q, i, size) : this.#pages.since.all(d, s, q, i, since, size);
        }
        const start = BigInt(device) === d ? [s, q, i] : [-1n, -1n, -1n];
        return since === undefined
          ? this.#pages.device.all(device, ...start, size)
          : this.#pages.deviceSince.all(device, ...start, since, size);
      });
      for (const row of rows) yield this.#stored(row);
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < size) return;
      cursor = [last.device, last.session, last.seq, last.idx];
      left -= rows.length;
    }
  }

  #stored(row: ReadingRow): StoredReading {
    let value: Value;
    try {
      value = fromCell(typeName(Number(row.type)), row.value);
    } catch (e) {
      throw new StoreError('STORE_READ', `reading ${row.device}/${row.session}/${row.seq}/${row.idx}: ${message(e)}`, { cause: e });
    }
    return {
      device: Number(row.device), session: Number(row.session), seq: Number(row.seq), index: Number(row.idx),
      sensor: Number(row.sensor), name: row.name, unit: row.unit, ...value,
      ts: Number(row.ts), receivedAt: Number(row.received_at), transport: checkTransport(row.transport),
    };
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
    db?.close();
  }
}

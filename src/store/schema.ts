// The SQLite schema and its migrations. The schema version is PRAGMA user_version: 0 is an empty
// file, N means MIGRATIONS[0 … N-1] have run. A migration runs in one IMMEDIATE transaction that
// reads the version again, so that several processes opening one file at once migrate it once.
// A file at a newer version than this code knows, or a database of something else, is refused.
//
// Tables (all STRICT), version 3:
//   devices   one row per device: its latest HELLO, highest seq of that session noted apart from
//             commits (the HELLO's own, noteSeq; loadDevice adds the highest stored), last
//             configuration id issued, first and latest HELLO times (Unix ms).
//   sensors   the catalogue of each (device, session) HELLO; `pos` keeps the catalogue's order.
//             Kept per session so that old readings keep the names and units they were sent with.
//   runs      the stored READINGS, in rows of up to MAX_RUN messages of one device and session,
//             usually one a session a commit (src/store/runs.ts): the range of seqs a run covers
//             [first_seq, last_seq], how many messages it holds, bounds of its reading times
//             (`min_ts`, `max_ts`, Unix ms: exact as a commit writes them, wider once late
//             messages have been merged in) and the messages in `body`. The runs of a session
//             never overlap. The UNIQUE index runs_key (device, session, first_seq) finds the one
//             run that can hold a seq (the duplicate check) and is the order `readings` returns
//             messages in.
// Why so: the table is appended to, so a commit writes its end and the index entries only.
// Version 1 inserted a row per reading into a table keyed device first (a commit of many devices
// dirtied a page per device per table); version 2 kept a row per message, its readings packed
// (src/store/packed.ts), with a UNIQUE index on (device, session, seq): an index entry per
// message, which with a device's seqs always growing made SQLite rebalance three index pages
// about every other commit. bench/store.ts measures each change.
//
// Migration 2 packs version 1's reading rows into messages; migration 3 gathers version 2's
// messages into runs, in (device, session, seq) order.
import type Database from 'better-sqlite3';
import { pack } from './packed.ts';
import { MAX_RUN, RunWriter } from './runs.ts';
import { checkTransport } from './names.ts';
import { fromCell, typeName, type Cell } from './values.ts';

export const SCHEMA_VERSION = 3;

/** Thrown for a file this code cannot migrate; openSqliteStore turns it into STORE_OPEN. */
export class SchemaError extends Error {
  override name = 'SchemaError';
}

const V1 = `
  CREATE TABLE devices (
    device      INTEGER PRIMARY KEY,
    session     INTEGER NOT NULL,
    model       TEXT    NOT NULL,
    firmware    TEXT    NOT NULL,
    interval_ms INTEGER NOT NULL,
    transport   TEXT    NOT NULL CHECK (transport IN ('tcp', 'udp', 'rudp')),
    highest_seq INTEGER NOT NULL DEFAULT 0,
    config_id   INTEGER NOT NULL DEFAULT 0,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE sensors (
    device   INTEGER NOT NULL,
    session  INTEGER NOT NULL,
    id       INTEGER NOT NULL,
    pos      INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    delivery TEXT    NOT NULL,
    unit     TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    PRIMARY KEY (device, session, id)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE messages (
    device      INTEGER NOT NULL,
    session     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    transport   TEXT    NOT NULL CHECK (transport IN ('tcp', 'udp', 'rudp')),
    base_time   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    readings    INTEGER NOT NULL,
    PRIMARY KEY (device, session, seq)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE readings (
    device  INTEGER NOT NULL,
    session INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    idx     INTEGER NOT NULL,
    sensor  INTEGER NOT NULL,
    type    INTEGER NOT NULL CHECK (type BETWEEN 1 AND 15),
    value   ANY,
    ts      INTEGER NOT NULL,
    PRIMARY KEY (device, session, seq, idx)
  ) STRICT, WITHOUT ROWID;
`;

const V2_MESSAGES = `
  CREATE TABLE packed_messages (
    id          INTEGER PRIMARY KEY,
    device      INTEGER NOT NULL,
    session     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    transport   TEXT    NOT NULL CHECK (transport IN ('tcp', 'udp', 'rudp')),
    base_time   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    min_ts      INTEGER NOT NULL,
    max_ts      INTEGER NOT NULL,
    readings    BLOB    NOT NULL
  ) STRICT;
`;

interface V1Message { device: number; session: number; seq: number; transport: string; base_time: number; received_at: number }
interface V1Reading { sensor: bigint; type: bigint; value: Cell; ts: bigint }

/** Version 1 → 2: every message's reading rows packed into its one row. */
function packReadings(db: Database.Database): void {
  db.exec(V2_MESSAGES);
  // Paged by key: better-sqlite3 runs no other statement on a connection while one iterates.
  // The first key is -Infinity: below every integer (the store takes negative ids too).
  const messages = db.prepare<[number, number, number], V1Message>(
    `SELECT device, session, seq, transport, base_time, received_at FROM messages
     WHERE (device, session, seq) > (?, ?, ?) ORDER BY device, session, seq LIMIT 1000`,
  );
  const readings = db.prepare<[number, number, number], V1Reading>(
    'SELECT sensor, type, value, ts FROM readings WHERE device = ? AND session = ? AND seq = ? ORDER BY idx',
  ).safeIntegers(true);
  const insert = db.prepare(
    `INSERT INTO packed_messages (device, session, seq, transport, base_time, received_at, count, min_ts, max_ts, readings)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (let page = messages.all(-Infinity, -Infinity, -Infinity); page.length > 0;) {
    for (const m of page) {
      const rows = readings.all(m.device, m.session, m.seq).map((r) => ({
        sensor: Number(r.sensor), delta: Number(r.ts) - m.base_time, ...fromCell(typeName(Number(r.type)), r.value),
      }));
      const p = pack(m.base_time, rows);
      insert.run(m.device, m.session, m.seq, m.transport, m.base_time, m.received_at, rows.length, p.minTs, p.maxTs, p.bytes);
    }
    const last = page[page.length - 1]!;
    page = messages.all(last.device, last.session, last.seq);
  }
  db.exec(`
    DROP TABLE readings;
    DROP TABLE messages;
    ALTER TABLE packed_messages RENAME TO messages;
    CREATE UNIQUE INDEX messages_key ON messages (device, session, seq);
  `);
}

const V3_RUNS = `
  CREATE TABLE runs (
    id        INTEGER PRIMARY KEY,
    device    INTEGER NOT NULL,
    session   INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    messages  INTEGER NOT NULL,
    min_ts    INTEGER NOT NULL,
    max_ts    INTEGER NOT NULL,
    body      BLOB    NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX runs_key ON runs (device, session, first_seq);
`;

interface V2Message {
  device: number; session: number; seq: number; transport: string; base_time: number; received_at: number;
  count: number; min_ts: number; max_ts: number; readings: Buffer;
}

/** Version 2 → 3: each session's messages, in seq order, gathered into runs of up to MAX_RUN. */
function gatherRuns(db: Database.Database): void {
  db.exec(V3_RUNS);
  const messages = db.prepare<[number, number, number], V2Message>(
    `SELECT device, session, seq, transport, base_time, received_at, count, min_ts, max_ts, readings FROM messages
     WHERE (device, session, seq) > (?, ?, ?) ORDER BY device, session, seq LIMIT 1000`,
  );
  const insert = db.prepare<[number, number, number, number, number, number, number, Buffer]>(
    'INSERT INTO runs (device, session, first_seq, last_seq, messages, min_ts, max_ts, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const writer = new RunWriter();
  let run: { device: number; session: number; first: number; last: number; n: number; min: number; max: number } | undefined;
  const flush = (): void => {
    if (run !== undefined) insert.run(run.device, run.session, run.first, run.last, run.n, run.min, run.max, writer.body());
    run = undefined;
  };
  for (let page = messages.all(-Infinity, -Infinity, -Infinity); page.length > 0;) {
    for (const m of page) {
      if (run !== undefined && (run.device !== m.device || run.session !== m.session || run.n === MAX_RUN
        || !Number.isSafeInteger(m.seq - run.last))) flush();
      if (run === undefined) {
        run = { device: m.device, session: m.session, first: m.seq, last: m.seq, n: 0, min: m.min_ts, max: m.max_ts };
        writer.start(m.seq);
      }
      writer.add(m.seq, checkTransport(m.transport), m.base_time, m.received_at, m.count, m.readings);
      run.last = m.seq;
      run.n++;
      run.min = Math.min(run.min, m.min_ts);
      run.max = Math.max(run.max, m.max_ts);
    }
    const last = page[page.length - 1]!;
    page = messages.all(last.device, last.session, last.seq);
  }
  flush();
  db.exec('DROP TABLE messages');
}

/** Step i takes a database from version i to i + 1. */
const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  (db) => db.exec(V1),
  packReadings,
  gatherRuns,
];

/** The version a database file is at. */
export function schemaVersion(db: Database.Database): number {
  const v: unknown = db.pragma('user_version', { simple: true });
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/**
 * Brings the database to version `to` (default SCHEMA_VERSION; tests build older files with a
 * lower one). Throws SchemaError for a database written by a newer sensorwire, or one that has
 * tables but no sensorwire version.
 */
export function migrate(db: Database.Database, to = SCHEMA_VERSION): void {
  if (schemaVersion(db) === to) return;
  db.transaction(() => {
    const from = schemaVersion(db);
    if (from > to) {
      throw new SchemaError(`the database is at schema version ${from}, newer than this sensorwire's ${to}`);
    }
    if (from === 0 && db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() !== 0) {
      throw new SchemaError('the file is an SQLite database of something else (it has tables but no sensorwire schema version)');
    }
    for (let v = from; v < to; v++) {
      const step = MIGRATIONS[v];
      if (step === undefined) throw new SchemaError(`no migration from schema version ${v}`);
      step(db);
    }
    db.pragma(`user_version = ${to}`);
  }).immediate();
}

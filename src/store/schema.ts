// The SQLite schema and its migrations. The schema version is PRAGMA user_version: 0 is an empty
// file, N means MIGRATIONS[0 … N-1] have run. A migration runs in one IMMEDIATE transaction that
// reads the version again, so that several processes opening one file at once migrate it once.
//
// Tables (all STRICT):
//   devices   one row per device: its latest HELLO, highest accepted seq of that session, last
//             configuration id issued, first and latest HELLO times (Unix ms).
//   sensors   the catalogue of each (device, session) HELLO; `pos` keeps the catalogue's order.
//             Kept per session so that old readings keep the names and units they were sent with.
//   messages  one row per stored READINGS; PRIMARY KEY (device, session, seq) is the duplicate
//             check. `readings` counts its readings (for totals without a scan).
//   readings  one row per reading; PRIMARY KEY (device, session, seq, idx). `type` is the value
//             type code, `value` an ANY column holding the cell of src/store/values.ts (INTEGER,
//             REAL, TEXT, BLOB, or NULL for a NaN float), `ts` = base time + delta (Unix ms).
// The tables keyed by several columns are WITHOUT ROWID: the key is the storage order, which is
// the order `readings` returns rows in.
import type Database from 'better-sqlite3';

export const SCHEMA_VERSION = 1;

const MIGRATIONS: readonly string[] = [
  `
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
  `,
];

/** The version a database file is at. */
export function schemaVersion(db: Database.Database): number {
  const v: unknown = db.pragma('user_version', { simple: true });
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/**
 * Brings the database to SCHEMA_VERSION. Throws for a database written by a newer sensorwire
 * (a version this code does not know).
 */
export function migrate(db: Database.Database): void {
  if (schemaVersion(db) === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = schemaVersion(db);
    if (from > SCHEMA_VERSION) {
      throw new Error(`the database is at schema version ${from}, newer than this sensorwire's ${SCHEMA_VERSION}`);
    }
    if (from === 0 && db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() !== 0) {
      throw new Error('the file is an SQLite database of something else (it has tables but no sensorwire schema version)');
    }
    for (let v = from; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v];
      if (step === undefined) throw new Error(`no migration from schema version ${v}`);
      db.exec(step);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

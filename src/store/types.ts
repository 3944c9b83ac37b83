// The storage interface the server writes through. The embedded default is SQLite
// (src/store/sqlite.ts); a shared database can implement the same interface later without the
// server changing. Every method is async so that a networked store fits.
import type { Reading, SensorSpec, Value } from '../protocol/index.ts';

/** The transports a reading can arrive on. */
export type TransportName = 'tcp' | 'udp' | 'rudp';

/** What the server knows of a device, kept across restarts. */
export interface DeviceRecord {
  readonly deviceId: number;
  /** Session number of the device's latest HELLO. */
  readonly session: number;
  readonly model: string;
  readonly firmware: string;
  readonly intervalMs: number;
  /** The catalogue of the latest HELLO. */
  readonly sensors: readonly SensorSpec[];
  /** Transport of the latest HELLO. */
  readonly transport: TransportName;
  /**
   * Highest seq accepted in `session` (anti-replay and resume): the higher of the one saved with
   * the record (or raised by noteSeq) and that of any message stored in the session. 0 when none.
   */
  readonly highestSeq: number;
  /** Last configuration id issued to the device; 0 when none. */
  readonly configId: number;
  /** Unix ms of the first and the latest HELLO. */
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/**
 * A message's readings packed into one buffer (src/store/packed.ts, packReadings), as the SQLite
 * store keeps them. A batch that waits for its commit this way holds one buffer where the decoded
 * readings hold an object per reading (and per number that is not a small integer): the server
 * packs what it receives, since those objects, kept alive across a turn of the event loop while
 * thousands of messages gather for one transaction, made garbage collection the largest cost of
 * batches of 10 readings.
 */
export interface PackedReadings {
  /** The packed readings; owned by this object (not a view of a buffer that is reused). */
  readonly bytes: Uint8Array;
  readonly count: number;
  /** Earliest and latest reading time, Unix ms. */
  readonly minTs: number;
  readonly maxTs: number;
}

/** One READINGS message, ready to commit. */
export interface ReadingsBatch {
  readonly deviceId: number;
  readonly session: number;
  readonly seq: number;
  readonly transport: TransportName;
  /** Base time of the message, Unix ms; reading i was taken at baseTime + readings[i].delta. */
  readonly baseTime: number;
  /** Server's clock when the message arrived, Unix ms. */
  readonly receivedAt: number;
  /** The readings as decoded, or packed already (the same readings, and refused the same way). */
  readonly readings: readonly Reading[] | PackedReadings;
}

/** A batch is stored, or it had been stored before (same device, session and seq). */
export type CommitOutcome = 'stored' | 'duplicate';

/** One stored reading, as the `readings` command prints it. */
export interface StoredReading {
  readonly device: number;
  readonly session: number;
  readonly seq: number;
  /** Position of the reading in its message, from 0. */
  readonly index: number;
  readonly sensor: number;
  /** Catalogue name of the sensor, '' if the catalogue had none. */
  readonly name: string;
  readonly unit: string;
  readonly type: Value['type'];
  readonly value: Value['value'];
  /** When the reading was taken, Unix ms. */
  readonly ts: number;
  readonly receivedAt: number;
  readonly transport: TransportName;
}

export interface ReadingsQuery {
  readonly device?: number;
  /** Only readings taken at or after this Unix ms. */
  readonly since?: number;
  /** At most this many, oldest first. */
  readonly limit?: number;
}

/** Counts per device and transport. */
export interface Totals {
  readonly device: number;
  readonly transport: TransportName;
  readonly messages: number;
  readonly readings: number;
}

export interface Store {
  /** Records a HELLO (insert or replace the device and its catalogue). */
  saveDevice(record: DeviceRecord): Promise<void>;
  loadDevice(deviceId: number): Promise<DeviceRecord | undefined>;
  /** Raises a device's highest accepted seq for its current session (never lowers it). */
  noteSeq(deviceId: number, session: number, seq: number): Promise<void>;
  /** Records that configuration `configId` was issued to the device. */
  noteConfig(deviceId: number, configId: number): Promise<void>;
  /**
   * Commits the batches in one transaction: all or none. A batch whose (device, session, seq)
   * is already stored is a duplicate and stores nothing. A stored batch counts toward the highest
   * seq of its device's session (DeviceRecord.highestSeq). Outcomes are in the order of `batches`.
   * Rejects with StoreError.
   */
  commit(batches: readonly ReadingsBatch[]): Promise<CommitOutcome[]>;
  /**
   * Stored readings in (device, session, seq, index) order. Readings committed while the stream
   * runs may or may not be in it (the SQLite store reads page by page and includes those past its
   * position; the memory store reads what was there when it began).
   */
  readings(query?: ReadingsQuery): AsyncIterable<StoredReading>;
  totals(): Promise<Totals[]>;
  close(): Promise<void>;
}

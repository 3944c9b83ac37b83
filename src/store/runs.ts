// A run is how the SQLite store keeps messages (schema version 3): READINGS of one device and
// session that one commit stored, up to MAX_RUN of them in one row, their seqs in increasing
// order (usually a commit's messages of a session are one run). A commit of one
// device's 20 messages is then one insert and one index entry, where it was 20 of each; the index
// was the larger part of a small commit's cost (bench/store.ts).
//
// The runs of a (device, session) never overlap: each covers [first_seq, last_seq], and no other
// run of its session has a seq in that range. So the run with the greatest first_seq at or below
// a seq is the only one that can hold it, and runs ordered by first_seq give the messages in seq
// order. src/store/sqlite.ts keeps this true when a late message falls inside a run's range.
//
// A run's body is its messages one after the other, each:
//   seq        unsigned varint: seq − the previous message's seq (the first: seq − first_seq, 0)
//   transport  u8: 0 tcp, 1 udp, 2 rudp
//   base time  signed varint (zigzag): base time − the previous message's base time (the first: − 0)
//   received   signed varint: receive time − this message's base time
//   count      unsigned varint: readings in the message
//   length     unsigned varint: bytes of packed readings that follow
//   readings   the message's readings as src/store/packed.ts packs them
// Times are Unix ms, whole, within ±2^51 (about 71,000 years; base and receive times are u48 on
// the wire), so that a difference of two fits a varint; others are refused. Where two seqs are
// too far apart for their difference to be exact, the store starts a new run.
import type { TransportName } from './types.ts';
import { ByteReader } from './packed.ts';
import { ValueCellError } from './values.ts';

const TRANSPORT_CODES: readonly TransportName[] = ['tcp', 'udp', 'rudp'];
/** Times a body holds lie strictly between −MAX_TIME and MAX_TIME (ms). */
export const MAX_TIME = 2 ** 51;

/**
 * The most messages a run holds. A commit of more of one session's messages stores several runs,
 * so that a late message that falls inside a run rewrites at most this many, and a page of runs
 * read by the `readings` command stays small.
 */
export const MAX_RUN = 64;

/** One message of a run, its readings still packed. */
export interface RunMessage {
  readonly seq: number;
  readonly transport: TransportName;
  readonly baseTime: number;
  readonly receivedAt: number;
  readonly count: number;
  /** Packed readings (src/store/packed.ts). */
  readonly readings: Uint8Array;
}

/** Writes run bodies into one buffer that is reused: body() is valid until the next start(). */
export class RunWriter {
  #buf = Buffer.allocUnsafe(4096);
  #at = 0;
  #seq = 0;
  #baseTime = 0;

  /** Starts a run whose first message has seq `firstSeq`. */
  start(firstSeq: number): void {
    this.#at = 0;
    this.#seq = firstSeq;
    this.#baseTime = 0;
  }

  /**
   * Appends a message. Throws ValueCellError for a seq that does not increase or jumps by more
   * than a safe integer, a time that is not a whole number within ±MAX_TIME, or an unknown
   * transport (from an untyped caller).
   */
  add(seq: number, transport: TransportName, baseTime: number, receivedAt: number, count: number, readings: Uint8Array): void {
    const code = TRANSPORT_CODES.indexOf(transport);
    if (code < 0) throw new ValueCellError(`unknown transport ${JSON.stringify(transport)}`);
    const step = seq - this.#seq;
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(step) || step < 0 || (step === 0 && this.#at > 0)) {
      throw new ValueCellError(`seq ${String(seq)} cannot follow ${this.#seq} in a run`);
    }
    this.#room(1 + 5 * 8 + readings.length);
    this.#uvarint(step);
    this.#seq = seq;
    this.#buf[this.#at++] = code;
    this.#time('a base time', baseTime, this.#baseTime);
    this.#baseTime = baseTime;
    this.#time('a receive time', receivedAt, baseTime);
    this.#uvarint(count);
    this.#uvarint(readings.length);
    this.#buf.set(readings, this.#at);
    this.#at += readings.length;
  }

  /** The run's body so far: a view of the writer's buffer (SQLite copies what it binds). */
  body(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.#buf.length, this.#at + n));
    this.#buf.copy(bigger, 0, 0, this.#at);
    this.#buf = bigger;
  }

  #uvarint(v: number): void {
    while (v >= 0x80) {
      this.#buf[this.#at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#at++] = v;
  }

  /** Writes `t` − `from` (`from` already checked) as a zigzag varint. */
  #time(what: string, t: number, from: number): void {
    if (!Number.isSafeInteger(t) || Math.abs(t) >= MAX_TIME) {
      throw new ValueCellError(`${what} must be a whole number of ms within ±2^51, not ${String(t)}`);
    }
    const v = t - from;
    this.#uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
}

/** Reads the messages of a run's body. Throws ValueCellError for bytes that are not a body. */
export function* runMessages(firstSeq: number, body: Uint8Array): Generator<RunMessage, void, undefined> {
  const r = new ByteReader(body, "a run's body");
  let seq = firstSeq;
  let baseTime = 0;
  while (!r.done) {
    seq += r.uvarint();
    const code = r.u8();
    const transport = TRANSPORT_CODES[code];
    if (transport === undefined) throw new ValueCellError(`a run's message has transport code ${code}`);
    baseTime += r.svarint();
    const receivedAt = baseTime + r.svarint();
    const count = r.uvarint();
    const length = r.uvarint();
    const at = r.need(length);
    yield { seq, transport, baseTime, receivedAt, count, readings: body.subarray(at, at + length) };
  }
}

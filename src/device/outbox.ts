// The messages a device has made and not yet seen acknowledged, in the order made, bounded: when
// full, the oldest is dropped and counted. A window caps how many are in flight at once.
//
// A message gets its seq when it is first sent, not when it is made: the messages made while the
// device cannot send (no connection, HELLO not yet acknowledged, window full) wait unnumbered, and
// take seqs after the HELLO that opens the connection they go out on. So only messages really in
// flight (at most one window) are ever numbered below a HELLO, which keeps them within the
// server's replay window (PROTOCOL.md §8: seqs at or below the highest minus 64 are refused).

export interface Outgoing {
  /** 0 until the message is numbered (on its first send). */
  readonly seq: number;
  /** The encoded message, once numbered. */
  readonly bytes: Uint8Array | undefined;
  /** Readings the message carries (0 for control messages). */
  readonly readings: number;
  /** Times sent so far. */
  sends: number;
  /** Monotonic and wall-clock time of the latest send (ms). */
  sentAt: number;
  sentWall: number;
  inFlight: boolean;
}

interface Entry extends Outgoing {
  seq: number;
  bytes: Uint8Array | undefined;
  /** Encodes the message with its seq. */
  readonly build: (seq: number) => Uint8Array;
  /** Position in the order made. */
  readonly key: number;
}

export class Outbox {
  /** Every entry, in the order made (numbered ones form a prefix: they are numbered in order). */
  private readonly entries = new Map<number, Entry>();
  /** Numbered entries by seq. */
  private readonly bySeq = new Map<number, Entry>();
  private readonly limit: number;
  private flying = 0;
  private nextKey = 1;
  /** Messages and readings dropped because the outbox was full. */
  droppedMessages = 0;
  droppedReadings = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get size(): number {
    return this.entries.size;
  }

  get inFlight(): number {
    return this.flying;
  }

  /** Lowest seq held, or undefined when no message held is numbered yet. */
  get lowestSeq(): number | undefined {
    for (const entry of this.entries.values()) return entry.seq === 0 ? undefined : entry.seq;
    return undefined;
  }

  /** Holds a message; `build(seq)` encodes it once it is numbered. Drops the oldest when full. */
  add(build: (seq: number) => Uint8Array, readings: number): Outgoing {
    if (this.entries.size >= this.limit) {
      const oldest = this.entries.values().next().value;
      if (oldest) {
        this.remove(oldest);
        this.droppedMessages++;
        this.droppedReadings += oldest.readings;
      }
    }
    const entry: Entry = { seq: 0, bytes: undefined, readings, sends: 0, sentAt: 0, sentWall: 0, inFlight: false, build, key: this.nextKey++ };
    this.entries.set(entry.key, entry);
    return entry;
  }

  /** Gives the message its seq and encodes it (done once, before its first send). */
  number(outgoing: Outgoing, seq: number): Uint8Array {
    const entry = this.entries.get((outgoing as Entry).key);
    if (entry === undefined) throw new RangeError('the message is not held');
    if (entry.bytes !== undefined) return entry.bytes;
    entry.seq = seq;
    entry.bytes = entry.build(seq);
    this.bySeq.set(seq, entry);
    return entry.bytes;
  }

  get(seq: number): Outgoing | undefined {
    return this.bySeq.get(seq);
  }

  /** Removes and returns the message (acknowledged, rejected or given up). */
  take(seq: number): Outgoing | undefined {
    const entry = this.bySeq.get(seq);
    if (!entry) return undefined;
    this.remove(entry);
    return entry;
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.key);
    if (entry.seq !== 0) this.bySeq.delete(entry.seq);
    if (entry.inFlight) this.flying--;
  }

  /** Messages not in flight, oldest first, while fewer than `window` are in flight. */
  *sendable(window: number): Generator<Outgoing> {
    for (const entry of this.entries.values()) {
      if (this.flying >= window) return;
      if (entry.inFlight) continue;
      yield entry;
    }
  }

  markSent(outgoing: Outgoing, now: number, wall: number): void {
    const entry = outgoing as Entry;
    if (!entry.inFlight) this.flying++;
    entry.inFlight = true;
    entry.sends++;
    entry.sentAt = now;
    entry.sentWall = wall;
  }

  /** The message is to be sent again (e.g. the server refused it until it hears HELLO). */
  requeue(seq: number): boolean {
    const entry = this.bySeq.get(seq);
    if (!entry) return false;
    if (entry.inFlight) this.flying--;
    entry.inFlight = false;
    return true;
  }

  /** After a reconnect: everything held is to be sent again. */
  resetInFlight(): void {
    for (const entry of this.entries.values()) entry.inFlight = false;
    this.flying = 0;
  }

  /** Entries in flight for longer than `ms` (for UDP's give-up). */
  *olderThan(now: number, ms: number): Generator<Outgoing> {
    for (const entry of this.entries.values()) if (entry.inFlight && now - entry.sentAt > ms) yield entry;
  }

  *all(): Generator<Outgoing> {
    yield* this.entries.values();
  }
}

// The messages a device has made and not yet seen acknowledged, in seq order, bounded: when
// full, the oldest is dropped and counted. A window caps how many are in flight at once.

export interface Outgoing {
  readonly seq: number;
  readonly bytes: Uint8Array;
  /** Readings the message carries (0 for control messages). */
  readonly readings: number;
  /** Times sent so far. */
  sends: number;
  /** Monotonic and wall-clock time of the latest send (ms). */
  sentAt: number;
  sentWall: number;
  inFlight: boolean;
}

export class Outbox {
  private readonly entries = new Map<number, Outgoing>();
  private readonly limit: number;
  private flying = 0;
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

  /** Lowest seq held, or undefined when empty. */
  get lowestSeq(): number | undefined {
    for (const seq of this.entries.keys()) return seq;
    return undefined;
  }

  add(seq: number, bytes: Uint8Array, readings: number): void {
    if (this.entries.size >= this.limit) {
      const oldest = this.entries.values().next().value;
      if (oldest) {
        this.take(oldest.seq);
        this.droppedMessages++;
        this.droppedReadings += oldest.readings;
      }
    }
    this.entries.set(seq, { seq, bytes, readings, sends: 0, sentAt: 0, sentWall: 0, inFlight: false });
  }

  get(seq: number): Outgoing | undefined {
    return this.entries.get(seq);
  }

  /** Removes and returns the message (acknowledged, rejected or given up). */
  take(seq: number): Outgoing | undefined {
    const entry = this.entries.get(seq);
    if (!entry) return undefined;
    this.entries.delete(seq);
    if (entry.inFlight) this.flying--;
    return entry;
  }

  /** Messages not in flight, oldest first, while fewer than `window` are in flight. */
  *sendable(window: number): Generator<Outgoing> {
    for (const entry of this.entries.values()) {
      if (this.flying >= window) return;
      if (entry.inFlight) continue;
      yield entry;
    }
  }

  markSent(entry: Outgoing, now: number, wall: number): void {
    if (!entry.inFlight) this.flying++;
    entry.inFlight = true;
    entry.sends++;
    entry.sentAt = now;
    entry.sentWall = wall;
  }

  /** The message is to be sent again (e.g. the server refused it until it hears HELLO). */
  requeue(seq: number): boolean {
    const entry = this.entries.get(seq);
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

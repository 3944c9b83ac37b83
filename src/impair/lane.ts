// One direction of one client's traffic through the relay. A datagram that survives the loss
// decision first waits out its delay in a FIFO delay line (jitter varies the delay but never lets
// a datagram overtake an earlier one: reordering is the reorder setting's job alone), then is
// either sent (with its duplicate) or, when chosen for reordering, held back until a later
// datagram has been sent or the hold time is over. Everything waiting counts against a budget
// shared by the whole relay; what does not fit is dropped and counted as overflow.
import type { Decision } from './decisions.ts';
import type { DirectionStats } from './stats.ts';

/** Timers fire on whole milliseconds; a datagram due within this much is sent now. */
const TIMER_SLACK_MS = 1;

export interface LaneContext {
  /** The counters of this lane's direction (shared by every client's lane in that direction). */
  readonly stats: DirectionStats;
  /** How long a datagram chosen for reordering waits at most for a later one to overtake it. */
  readonly holdMs: number;
  /** True while the relay may queue one more datagram. */
  readonly room: () => boolean;
  /** Puts one datagram on the wire. */
  readonly send: (data: Buffer) => void;
  readonly now: () => number;
}

interface Item {
  readonly data: Buffer;
  readonly copies: number;
  readonly reorder: boolean;
  /** When it leaves the delay line. */
  readonly due: number;
}

interface Held {
  readonly item: Item;
  /** When it is sent even if nothing has overtaken it. */
  readonly until: number;
}

export class Lane {
  /** Position of the next datagram in this lane: the index its decision is keyed by. */
  next = 0;
  readonly #ctx: LaneContext;
  readonly #delayLine: Item[] = [];
  #lastDue = -Infinity;
  #delayTimer: NodeJS.Timeout | undefined;
  readonly #held: Held[] = [];
  #holdTimer: NodeJS.Timeout | undefined;

  constructor(ctx: LaneContext) {
    this.#ctx = ctx;
  }

  /** Datagrams waiting in this lane. */
  get pending(): number {
    return this.#delayLine.length + this.#held.length;
  }

  /** Takes one arriving datagram and its decision. */
  accept(data: Buffer, decision: Decision): void {
    const stats = this.#ctx.stats;
    stats.received++;
    stats.bytesReceived += data.length;
    if (decision.drop) {
      stats.dropped++;
      return;
    }
    const waits = decision.delayMs > 0 || decision.reorder || this.#delayLine.length > 0;
    if (waits && !this.#ctx.room()) {
      stats.overflow++;
      return;
    }
    if (decision.delayMs > 0) stats.delayed++;
    const now = this.#ctx.now();
    if (decision.delayMs > 0 || this.#delayLine.length > 0) {
      // FIFO: never due before the datagram ahead of it.
      const due = Math.max(now + decision.delayMs, this.#lastDue);
      this.#lastDue = due;
      this.#delayLine.push({ data, copies: decision.copies, reorder: decision.reorder, due });
      stats.queued++;
      if (this.#delayLine.length === 1) this.#armDelay(now);
      return;
    }
    if (decision.reorder) stats.queued++;
    this.#pass({ data, copies: decision.copies, reorder: decision.reorder, due: now }, now);
  }

  /** Throws away everything waiting and stops the timers; returns how many datagrams were waiting. */
  clear(): number {
    clearTimeout(this.#delayTimer);
    clearTimeout(this.#holdTimer);
    this.#delayTimer = undefined;
    this.#holdTimer = undefined;
    const n = this.pending;
    this.#delayLine.length = 0;
    this.#held.length = 0;
    this.#ctx.stats.queued -= n;
    this.#ctx.stats.discarded += n;
    return n;
  }

  // An item leaves the delay line (or skips it). An item counted in `queued` stays counted
  // while it is held; #send uncounts it.
  #pass(item: Item, now: number): void {
    if (item.reorder) {
      this.#held.push({ item, until: now + this.#ctx.holdMs });
      if (this.#held.length === 1) this.#armHold(now);
      return;
    }
    this.#send(item, false);
    if (this.#held.length > 0) {
      // A later datagram has gone by: everything held is now out of order.
      const overtaken = this.#held.splice(0);
      clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
      for (const h of overtaken) {
        this.#ctx.stats.reordered++;
        this.#send(h.item, true);
      }
    }
  }

  #send(item: Item, queued: boolean): void {
    const stats = this.#ctx.stats;
    if (queued) stats.queued--;
    for (let i = 0; i < item.copies; i++) {
      this.#ctx.send(item.data);
      stats.forwarded++;
      stats.bytesForwarded += item.data.length;
    }
    if (item.copies > 1) stats.duplicated += item.copies - 1;
  }

  #armDelay(now: number): void {
    const head = this.#delayLine[0];
    if (!head) return;
    this.#delayTimer = setTimeout(() => this.#onDelay(), Math.max(0, head.due - now));
  }

  #onDelay(): void {
    this.#delayTimer = undefined;
    const now = this.#ctx.now();
    while (this.#delayLine.length > 0 && this.#delayLine[0]!.due <= now + TIMER_SLACK_MS) {
      const item = this.#delayLine.shift()!;
      // Counted in `queued` since it entered the delay line; one to be held stays counted.
      if (!item.reorder) this.#ctx.stats.queued--;
      this.#pass(item, now);
    }
    this.#armDelay(now);
  }

  #armHold(now: number): void {
    const first = this.#held[0];
    if (!first) return;
    this.#holdTimer = setTimeout(() => this.#onHold(), Math.max(0, first.until - now));
  }

  #onHold(): void {
    this.#holdTimer = undefined;
    const now = this.#ctx.now();
    // Nothing overtook these in time: they go out in their own order, not reordered.
    while (this.#held.length > 0 && this.#held[0]!.until <= now + TIMER_SLACK_MS) this.#send(this.#held.shift()!.item, true);
    this.#armHold(now);
  }
}

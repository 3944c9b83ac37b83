// The server's side of an rudp session (PROTOCOL.md §7.2, §7.3): the cumulative point, a reorder
// buffer of at most 64 messages above it, the selective ranges, and when to acknowledge. Pure:
// the caller feeds arrivals and commits and acts on the decisions returned.
import { Limits, type SackRange } from '../../protocol/index.ts';

export const RUDP_WINDOW = 64;
/** Delayed acknowledgement: at most this many new in-order messages, or this long. */
export const ACK_EVERY = 2;
export const ACK_DELAY_MS = 10;

export type Arrival =
  /** New and in the window: handle it (READINGS: commit in order, see `deliverable`). */
  | { readonly kind: 'accepted'; readonly inOrder: boolean }
  /** At or below the cumulative point, or already buffered: discard, acknowledge now. */
  | { readonly kind: 'duplicate' }
  /** More than the window above the cumulative point: drop unread. */
  | { readonly kind: 'outside' };

export class RudpReceiver<T> {
  /** Every seq up to here is received and handled. */
  cumulative: number;
  private readonly received = new Map<number, T | undefined>();
  /** Seqs handled (committed) but waiting for lower ones before the point can pass them. */
  private readonly done = new Set<number>();
  private unacked = 0;
  duplicates = 0;

  constructor(resumeSeq: number) {
    this.cumulative = Math.max(0, resumeSeq - 1);
  }

  /** A HELLO that resumes at `resumeSeq` raises the point, never lowers it. */
  resume(resumeSeq: number): void {
    const target = resumeSeq - 1;
    if (target <= this.cumulative) return;
    for (const seq of [...this.received.keys()]) if (seq <= target) this.received.delete(seq);
    for (const seq of [...this.done]) if (seq <= target) this.done.delete(seq);
    this.cumulative = target;
    this.advance();
  }

  /** Records an arriving message; `item` is what to keep until it can be delivered in order. */
  arrive(seq: number, item?: T): Arrival {
    if (seq <= this.cumulative || this.received.has(seq)) {
      this.duplicates++;
      return { kind: 'duplicate' };
    }
    if (seq > this.cumulative + RUDP_WINDOW) return { kind: 'outside' };
    this.received.set(seq, item);
    // In order: the seqs above the point form one unbroken run that ends here (those before it
    // may still be committing); anything else opens or fills a gap.
    return { kind: 'accepted', inOrder: seq === this.cumulative + this.received.size };
  }

  /**
   * Items that may now be handled in order: the unbroken run above the cumulative point that is
   * not yet handled. The caller handles them and then calls `handled` for each.
   */
  deliverable(): { seq: number; item: T | undefined }[] {
    const out: { seq: number; item: T | undefined }[] = [];
    for (let seq = this.cumulative + 1; this.received.has(seq); seq++) {
      if (!this.done.has(seq)) out.push({ seq, item: this.received.get(seq) });
    }
    return out;
  }

  /**
   * Forgets a message that could not be handled (its commit failed), so that its retransmission
   * is taken as new.
   */
  forget(seq: number): void {
    if (seq <= this.cumulative || this.done.has(seq)) return;
    this.received.delete(seq);
  }

  /** True when `seq` is buffered above the point (received, not yet passed). */
  holds(seq: number): boolean {
    return this.received.has(seq);
  }

  /** Marks a message handled (a READINGS: committed); the point advances over handled runs. */
  handled(seq: number): void {
    if (seq <= this.cumulative) return;
    this.done.add(seq);
    this.advance();
  }

  private advance(): void {
    while (this.done.has(this.cumulative + 1)) {
      this.cumulative++;
      this.done.delete(this.cumulative);
      this.received.delete(this.cumulative);
      this.unacked++;
    }
  }

  /** Buffered messages, not yet passed by the point. */
  get buffered(): number {
    return this.received.size;
  }

  get window(): number {
    return Math.max(0, RUDP_WINDOW - this.received.size);
  }

  /** Up to 8 ranges of seqs received above the point, lowest first. */
  ranges(): SackRange[] {
    const seqs = [...this.received.keys()].filter((s) => s > this.cumulative + 1).sort((a, b) => a - b);
    const out: SackRange[] = [];
    for (const seq of seqs) {
      const last = out.at(-1);
      if (last && seq === last.last + 1) out[out.length - 1] = { first: last.first, last: seq };
      else if (out.length < Limits.MAX_SACK_RANGES) out.push({ first: seq, last: seq });
      else break;
    }
    // A range must start at least 2 above the one before (PROTOCOL.md §4.3); a seq just above
    // the point would already be covered by it.
    return out.filter((r, i) => r.first >= (i === 0 ? this.cumulative : out[i - 1]!.last) + 2);
  }

  /** True when delayed-ack rules say acknowledge now (every second in-order message). */
  ackDue(): boolean {
    return this.unacked >= ACK_EVERY;
  }

  /** Something was acknowledged to the peer: reset the delayed-ack count. */
  acked(): void {
    this.unacked = 0;
  }

  /** New in-order messages not yet acknowledged. */
  get pendingAcks(): number {
    return this.unacked;
  }
}

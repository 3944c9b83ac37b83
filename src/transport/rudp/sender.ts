// The device's side of an rudp session (PROTOCOL.md §7.3–7.6): messages held until the
// cumulative ack covers them, the send window, RTT samples (Karn), the retransmission timer with
// backoff, fast retransmit from the selective ranges, and giving up. Pure: time comes from the
// caller, and every method returns what to do.
import type { SackRange } from '../../protocol/index.ts';
import { RUDP_WINDOW } from './receiver.ts';
import { RtoEstimator } from './rto.ts';

export const MAX_RETRANSMISSIONS = 8;
export const DUP_THRESHOLD = 3;

export interface Held {
  readonly seq: number;
  bytes: Uint8Array;
  /** Sends so far (0: not sent yet). */
  sends: number;
  /** Retransmissions since it was added or the session was last reset: what giving up counts. */
  retries: number;
  /** When last sent (ms, the caller's clock). */
  sentAt: number;
  /** Covered by a selective range: not to be retransmitted while the epoch holds. */
  sacked: boolean;
  /** When it was last fast-retransmitted. */
  fastAt: number;
  /** To be sent again without waiting for the timer (after a resynchronisation). */
  resend: boolean;
}

export interface AckInfo {
  readonly ackSeq: number;
  readonly sack: readonly SackRange[];
  readonly window: number;
  readonly holdUs: number;
}

export interface AckResult {
  /** Messages now covered by the cumulative ack, in seq order. */
  readonly acknowledged: Held[];
  /** The RTT sample taken, if any (ms), and the message it came from. */
  readonly rttMs?: number;
  readonly sampled?: Held;
  /** Messages to send again at once (fast retransmit). */
  readonly retransmit: Held[];
}

export class RudpSender {
  readonly rto = new RtoEstimator();
  private readonly held = new Map<number, Held>();
  /** The peer's cumulative point and window, from the latest ACK. */
  cumulative = 0;
  peerWindow = RUDP_WINDOW;
  retransmissions = 0;
  /** Time the retransmission timer was (re)started, or undefined when it is not running. */
  private timerStart: number | undefined;
  /**
   * A message that goes before every other (a HELLO not yet acknowledged): while set, only it is
   * sent, whatever the window, and the timer retransmits only it.
   */
  private pinned: number | undefined;

  get size(): number {
    return this.held.size;
  }

  /** Lowest seq held, or undefined. */
  get lowest(): number | undefined {
    let low: number | undefined;
    for (const seq of this.held.keys()) if (low === undefined || seq < low) low = seq;
    return low;
  }

  /** Adds a message to send. */
  add(seq: number, bytes: Uint8Array): void {
    this.held.set(seq, { seq, bytes, sends: 0, retries: 0, sentAt: 0, sacked: false, fastAt: -Infinity, resend: false });
  }

  /** Drops a message without an acknowledgement (the peer refused it for good). */
  remove(seq: number): Held | undefined {
    const h = this.held.get(seq);
    this.held.delete(seq);
    if (this.pinned === seq) this.pinned = undefined;
    if (!this.outstanding()) this.timerStart = undefined;
    return h;
  }

  /** Sends only this message until `pin(undefined)` (see `pinned`). */
  pin(seq: number | undefined): void {
    this.pinned = seq;
  }

  get pinnedSeq(): number | undefined {
    return this.pinned;
  }

  get(seq: number): Held | undefined {
    return this.held.get(seq);
  }

  *all(): Generator<Held> {
    yield* [...this.held.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Messages to send now (new ones, and all after a resynchronisation) that the window allows, lowest first. */
  sendable(): Held[] {
    if (this.pinned !== undefined) {
      const h = this.held.get(this.pinned);
      return h && (h.sends === 0 || h.resend) ? [h] : [];
    }
    const limit = this.cumulative + Math.min(this.peerWindow, RUDP_WINDOW);
    return [...this.all()].filter((h) => (h.sends === 0 || h.resend) && h.seq <= limit);
  }

  /** Records a send (first or again). Starts the timer if it is not running. */
  sent(h: Held, now: number): void {
    if (h.sends > 0) {
      this.retransmissions++;
      h.retries++;
    }
    h.sends++;
    h.resend = false;
    h.sentAt = now;
    this.timerStart ??= now;
  }

  /** Processes an ACK: what it acknowledged, an RTT sample, what to fast-retransmit. */
  ack(a: AckInfo, now: number): AckResult {
    let sampled: Held | undefined;
    const acknowledged: Held[] = [];
    const take = (h: Held): void => {
      // Karn: only a message sent exactly once gives a sample. Of those, the newest: the ACK's
      // hold refers to the message that triggered it, the latest to arrive, and an older one
      // may have waited at the peer for a delayed acknowledgement.
      if (h.sends === 1 && (sampled === undefined || h.seq > sampled.seq)) sampled = h;
    };
    if (a.ackSeq > this.cumulative) this.cumulative = a.ackSeq;
    this.peerWindow = a.window;
    for (const h of [...this.held.values()]) {
      if (h.seq <= this.cumulative) {
        this.held.delete(h.seq);
        // Already covered by a range: its sample came then, and the time since counts its wait
        // in the peer's reorder buffer for a lower seq, not the path.
        if (h.sends > 0 && !h.sacked) take(h);
        acknowledged.push(h);
      }
    }
    acknowledged.sort((x, y) => x.seq - y.seq);
    for (const range of a.sack) {
      for (const h of this.held.values()) {
        if (h.seq >= range.first && h.seq <= range.last && !h.sacked && h.sends > 0) {
          h.sacked = true;
          take(h);
        }
      }
    }
    const rttMs = sampled === undefined ? undefined : Math.max(0, now - sampled.sentAt - a.holdUs / 1000);
    if (rttMs !== undefined) this.rto.sample(rttMs);
    // Progress restarts the timer for what is still outstanding.
    if (acknowledged.length > 0 || rttMs !== undefined) this.timerStart = this.outstanding() ? now : undefined;
    // Fast retransmit: a hole with at least DUP_THRESHOLD messages received above it.
    const highestSacked = a.sack.at(-1)?.last ?? 0;
    const receivedAbove = (seq: number): number =>
      a.sack.reduce((n, r) => n + Math.max(0, r.last - Math.max(r.first, seq + 1) + 1), 0);
    const retransmit: Held[] = [];
    for (const h of this.all()) {
      if (h.seq >= highestSacked) break;
      if (h.sacked || h.sends === 0) continue;
      if (receivedAbove(h.seq) >= DUP_THRESHOLD && now - h.fastAt >= this.rto.rto) {
        h.fastAt = now;
        retransmit.push(h);
      }
    }
    return { acknowledged, ...(rttMs !== undefined && sampled ? { rttMs, sampled } : {}), retransmit };
  }

  /** True while a message is sent and not yet acknowledged. */
  outstanding(): boolean {
    for (const h of this.held.values()) if (h.sends > 0) return true;
    return false;
  }

  /** When the retransmission timer expires (caller's clock), or undefined if it is not running. */
  deadline(): number | undefined {
    return this.timerStart === undefined ? undefined : this.timerStart + this.rto.rto;
  }

  /**
   * The timer expired: the message to send again (the oldest sent and not selectively
   * acknowledged; the oldest at all as a probe), or `gaveUp` when it has been sent too often
   * (`stuck` is that message; nothing is to be sent).
   */
  expire(now: number): { retransmit?: Held; gaveUp: boolean; stuck?: Held } {
    if (this.deadline() === undefined || now < this.deadline()!) return { gaveUp: false };
    const pinned = this.pinned === undefined ? undefined : this.held.get(this.pinned);
    const candidates = pinned ? [pinned].filter((h) => h.sends > 0) : [...this.all()].filter((h) => h.sends > 0);
    const target = candidates.find((h) => !h.sacked) ?? candidates[0];
    if (!target) {
      this.timerStart = undefined;
      return { gaveUp: false };
    }
    if (target.retries >= MAX_RETRANSMISSIONS) return { gaveUp: true, stuck: target };
    this.rto.expired();
    this.timerStart = now;
    return { retransmit: target, gaveUp: false };
  }

  /**
   * After a resynchronisation or giving up: everything held is to be sent again (counting as
   * retransmissions, so giving no RTT sample), nothing is selectively acknowledged any more, and
   * the retransmission bound counts afresh. `cumulative` is where the peer will start again: the
   * resume seq of the HELLO to come, less one.
   */
  reset(cumulative = 0): void {
    for (const h of this.held.values()) {
      h.resend = h.sends > 0;
      h.sacked = false;
      h.retries = 0;
    }
    this.cumulative = cumulative;
    this.peerWindow = RUDP_WINDOW;
    this.timerStart = undefined;
  }
}

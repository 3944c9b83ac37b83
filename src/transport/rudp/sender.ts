// The device's side of an rudp session (PROTOCOL.md §7.3–7.6): messages held until the
// cumulative ack covers them, the send window, RTT samples (Karn), loss detection by time (RACK,
// RFC 8985: a message is lost once one sent after it has arrived and a reordering allowance has
// passed), a tail loss probe, the retransmission timer with backoff, and giving up. Pure: time
// comes from the caller, and every method returns what to do.
import type { SackRange } from '../../protocol/index.ts';
import { ACK_DELAY_MS, RUDP_WINDOW } from './receiver.ts';
import { RtoEstimator } from './rto.ts';

export const MAX_RETRANSMISSIONS = 8;
/** Smallest reordering allowance (ms): a datagram overtaken by less than this is not taken for lost. */
export const MIN_REORDER_MS = 1;
/** Smallest probe timeout (ms). */
export const MIN_PROBE_MS = 2 * ACK_DELAY_MS;

/** Why messages are sent again: RTO expiry, RACK loss detection, a tail loss or zero-window probe. */
export type RetransmitReason = 'timeout' | 'fast' | 'probe';

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
  /** Messages to send again at once: lost, by RACK (fast retransmit). */
  readonly retransmit: Held[];
}

export interface Expiry {
  /** Messages to send again now, lowest seq first, and why. */
  readonly retransmit: Held[];
  readonly reason: RetransmitReason;
  /** A message has been sent MAX_RETRANSMISSIONS times without an acknowledgement (`stuck`). */
  readonly gaveUp: boolean;
  readonly stuck?: Held;
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
  /** RACK: send time and seq of the most recently sent message known to have arrived, and its RTT. */
  private rackSentAt = -Infinity;
  private rackSeq = 0;
  private rackRttMs = 0;
  /** Smallest RTT sample so far (ms). */
  private minRttMs = Infinity;
  /** When the earliest message RACK suspects, but cannot yet call lost, will be (reorder timer). */
  private reorderAt: number | undefined;
  /** When the tail loss probe goes, unless an ACK comes first; undefined when not armed. */
  private probeAt: number | undefined;
  /** A probe was sent and no ACK has come since: the next expiry is the RTO's. */
  private probing = false;
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
    this.held.set(seq, { seq, bytes, sends: 0, retries: 0, sentAt: 0, sacked: false, resend: false });
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
    if (!this.probing) this.probeAt = now + this.probeTimeout();
  }

  /**
   * The tail loss probe's timeout (RFC 8985 §7.2): two smoothed RTTs plus the peer's delayed
   * acknowledgement, at least MIN_PROBE_MS, and never later than the RTO.
   */
  private probeTimeout(): number {
    const srtt = this.rto.srtt;
    if (srtt === undefined) return this.rto.rto;
    return Math.min(this.rto.rto, Math.max(MIN_PROBE_MS, 2 * srtt + ACK_DELAY_MS));
  }

  /** RACK's reordering allowance: a quarter of the smallest RTT, at least MIN_REORDER_MS. */
  private reorderWindow(): number {
    return Math.max(MIN_REORDER_MS, this.minRttMs === Infinity ? 0 : this.minRttMs / 4);
  }

  /** RACK: the message `h` has arrived; remember it if it is the most recently sent so far. */
  private delivered(h: Held, now: number): void {
    const rtt = now - h.sentAt;
    // An ACK quicker than any round trip answers an earlier copy of a retransmitted message.
    if (h.sends > 1 && rtt < this.minRttMs) return;
    if (h.sentAt > this.rackSentAt || (h.sentAt === this.rackSentAt && h.seq > this.rackSeq)) {
      this.rackSentAt = h.sentAt;
      this.rackSeq = h.seq;
      this.rackRttMs = rtt;
    }
  }

  /**
   * RACK loss detection (RFC 8985 §6.2): a message sent before the most recently sent one known
   * to have arrived is lost once its RTT plus the reordering allowance has passed. Returns the
   * lost ones and arms the reorder timer for the earliest one still in doubt.
   */
  private detectLosses(now: number): Held[] {
    const lost: Held[] = [];
    this.reorderAt = undefined;
    if (this.pinned !== undefined) return lost;
    const allowance = this.rackRttMs + this.reorderWindow();
    for (const h of this.all()) {
      if (h.sends === 0 || h.sacked || h.resend) continue;
      const before = h.sentAt < this.rackSentAt || (h.sentAt === this.rackSentAt && h.seq < this.rackSeq);
      if (!before) continue;
      const at = h.sentAt + allowance;
      if (now >= at) lost.push(h);
      else this.reorderAt = Math.min(this.reorderAt ?? Infinity, at);
    }
    return lost;
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
    const arrived: Held[] = [];
    for (const h of [...this.held.values()]) {
      if (h.seq <= this.cumulative) {
        this.held.delete(h.seq);
        // Already covered by a range: its sample came then, and the time since counts its wait
        // in the peer's reorder buffer for a lower seq, not the path.
        if (h.sends > 0 && !h.sacked) {
          take(h);
          arrived.push(h);
        }
        acknowledged.push(h);
      }
    }
    acknowledged.sort((x, y) => x.seq - y.seq);
    for (const range of a.sack) {
      for (const h of this.held.values()) {
        if (h.seq >= range.first && h.seq <= range.last && !h.sacked && h.sends > 0) {
          h.sacked = true;
          take(h);
          arrived.push(h);
        }
      }
    }
    const rttMs = sampled === undefined ? undefined : Math.max(0, now - sampled.sentAt - a.holdUs / 1000);
    if (rttMs !== undefined) {
      this.rto.sample(rttMs);
      this.minRttMs = Math.min(this.minRttMs, rttMs);
    }
    for (const h of arrived) this.delivered(h, now);
    // Progress restarts the timer for what is still outstanding, and re-arms the probe.
    if (arrived.length > 0 || acknowledged.length > 0) {
      if (arrived.length > 0) this.rto.resetBackoff();
      const outstanding = this.outstanding();
      this.timerStart = outstanding ? now : undefined;
      this.probing = false;
      this.probeAt = outstanding ? now + this.probeTimeout() : undefined;
    }
    const retransmit = this.detectLosses(now);
    return { acknowledged, ...(rttMs !== undefined && sampled ? { rttMs, sampled } : {}), retransmit };
  }

  /** True while a message is sent and not yet acknowledged. */
  outstanding(): boolean {
    for (const h of this.held.values()) if (h.sends > 0) return true;
    return false;
  }

  /** When the retransmission timer expires (caller's clock), or undefined if it is not running. */
  rtoDeadline(): number | undefined {
    return this.timerStart === undefined ? undefined : this.timerStart + this.rto.rto;
  }

  /**
   * When expire() has something to do: the earliest of the RTO, the reorder timer and the tail
   * loss probe; undefined when nothing is outstanding.
   */
  deadline(): number | undefined {
    const rto = this.rtoDeadline();
    if (rto === undefined) return undefined;
    return Math.min(rto, this.reorderAt ?? Infinity, this.probing || this.pinned !== undefined ? Infinity : this.probeAt ?? Infinity);
  }

  /**
   * A deadline passed. In order: the RTO — every message sent and not selectively acknowledged
   * is taken for lost (RFC 8985 §6.3) and sent again, the timeout doubles, or `gaveUp` when one
   * has been sent too often (`stuck`; nothing is to be sent); the reorder timer — the messages
   * RACK now calls lost; the tail loss probe — the newest message sent and not selectively
   * acknowledged goes again, so that its ACK shows what else is missing.
   */
  expire(now: number): Expiry {
    const none: Expiry = { retransmit: [], reason: 'timeout', gaveUp: false };
    const rto = this.rtoDeadline();
    if (rto === undefined) return none;
    if (now >= rto) {
      const pinned = this.pinned === undefined ? undefined : this.held.get(this.pinned);
      const sent = pinned ? [pinned].filter((h) => h.sends > 0) : [...this.all()].filter((h) => h.sends > 0);
      // The oldest has waited a whole RTO; the others are lost when they have waited an RTT and
      // the reordering allowance since they were sent (RFC 8985 §6.3).
      const allowance = this.rackRttMs + this.reorderWindow();
      const oldest = sent.find((h) => !h.sacked);
      const lost = sent.filter((h) => !h.sacked && (h === oldest || now - h.sentAt >= allowance));
      // Everything sent is selectively acknowledged (the peer keeps it but cannot pass a gap
      // of unsent seqs, or its window is 0): the oldest goes as a probe.
      const targets = lost.length > 0 ? lost : sent.slice(0, 1);
      if (targets.length === 0) {
        this.timerStart = undefined;
        return none;
      }
      const stuck = targets.find((h) => h.retries >= MAX_RETRANSMISSIONS);
      if (stuck) return { retransmit: [], reason: 'timeout', gaveUp: true, stuck };
      this.rto.expired();
      this.timerStart = now;
      // No probe until an ACK shows progress again: in loss recovery the RTO alone retransmits
      // (RFC 8985 §7.2), or the newest message would reach the give-up bound twice as fast.
      this.probing = true;
      this.probeAt = undefined;
      this.reorderAt = undefined;
      return { retransmit: targets, reason: lost.length > 0 ? 'timeout' : 'probe', gaveUp: false };
    }
    if (this.reorderAt !== undefined && now >= this.reorderAt) {
      return { retransmit: this.detectLosses(now), reason: 'fast', gaveUp: false };
    }
    if (!this.probing && this.pinned === undefined && this.probeAt !== undefined && now >= this.probeAt) {
      this.probing = true;
      this.probeAt = undefined;
      let newest: Held | undefined;
      for (const h of this.held.values()) if (h.sends > 0 && !h.sacked && (newest === undefined || h.seq > newest.seq)) newest = h;
      return { retransmit: newest ? [newest] : [], reason: 'probe', gaveUp: false };
    }
    return none;
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
    this.rackSentAt = -Infinity;
    this.rackSeq = 0;
    this.reorderAt = undefined;
    this.probeAt = undefined;
    this.probing = false;
  }
}

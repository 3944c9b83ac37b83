// The retransmission timeout of PROTOCOL.md §7.4: SRTT and RTTVAR as in RFC 6298 §2, clamped to
// [50 ms, 10 s], doubled on each expiry until a new sample arrives.

export const RTO_INITIAL_MS = 500;
export const RTO_MIN_MS = 50;
export const RTO_MAX_MS = 10_000;
const GRANULARITY_MS = 1;

export class RtoEstimator {
  private srttMs: number | undefined;
  private rttvarMs = 0;
  private backoff = 1;

  /** Smoothed RTT, undefined before the first sample. */
  get srtt(): number | undefined {
    return this.srttMs;
  }

  get rttvar(): number {
    return this.rttvarMs;
  }

  /** The current timeout, backoff included. */
  get rto(): number {
    const base = this.srttMs === undefined ? RTO_INITIAL_MS : this.srttMs + Math.max(GRANULARITY_MS, 4 * this.rttvarMs);
    return Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, base) * this.backoff);
  }

  /** A round-trip sample from a message sent exactly once (Karn). Ends any backoff. */
  sample(rttMs: number): void {
    if (this.srttMs === undefined) {
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
    } else {
      this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - rttMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
    }
    this.backoff = 1;
  }

  /**
   * An ACK newly covered a message: the path works again, so the backoff ends even without a
   * sample (after a resynchronisation every message is a retransmission and gives none, Karn).
   */
  resetBackoff(): void {
    this.backoff = 1;
  }

  /** The timer expired: double the timeout, up to the cap. */
  expired(): void {
    if (this.rto < RTO_MAX_MS) this.backoff *= 2;
  }
}

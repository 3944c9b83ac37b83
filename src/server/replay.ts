// Anti-replay window (PROTOCOL.md §8): the highest accepted seq and which of the 64 below it
// were accepted, as in IPsec's sliding window (RFC 4303 §3.4.3).

export const REPLAY_WINDOW = 64;

export class ReplayWindow {
  /** Highest seq accepted. */
  highest: number;
  /** Bit i set: seq (highest − i) was accepted. */
  private seen: bigint;

  /**
   * A window whose highest accepted seq is `highest`. After a restart the bits are unknown, so
   * every seq at or below `highest` counts as seen.
   */
  constructor(highest = 0) {
    this.highest = highest;
    this.seen = highest > 0 ? (1n << BigInt(REPLAY_WINDOW)) - 1n : 0n;
  }

  /** True when seq is too old to be judged: at or below highest − 64. */
  tooOld(seq: number): boolean {
    return seq + REPLAY_WINDOW <= this.highest;
  }

  /** True when seq was accepted before or is too old. */
  seenBefore(seq: number): boolean {
    if (seq > this.highest) return false;
    if (this.tooOld(seq)) return true;
    return ((this.seen >> BigInt(this.highest - seq)) & 1n) === 1n;
  }

  accept(seq: number): void {
    if (seq > this.highest) {
      const shift = seq - this.highest;
      this.seen = shift >= REPLAY_WINDOW ? 1n : ((this.seen << BigInt(shift)) | 1n) & ((1n << BigInt(REPLAY_WINDOW)) - 1n);
      this.highest = seq;
    } else if (!this.tooOld(seq)) {
      this.seen |= 1n << BigInt(this.highest - seq);
    }
  }
}

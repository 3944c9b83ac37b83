// Round-trip time and clock offset from the timestamps an ACK carries (PROTOCOL.md §4.3):
// the device's send and receive times t0, t3 and the server's receive and send times t1, t2.

export interface RttSummary {
  readonly samples: number;
  readonly minMs: number;
  readonly avgMs: number;
  readonly maxMs: number;
}

export class Timing {
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;
  /** Offset from the sample with the smallest round trip, the least disturbed by queueing. */
  private offset: number | undefined;
  private offsetRtt = Infinity;

  /**
   * Adds one exchange. `sentAt`/`receivedAt` are the device's monotonic clock (ms),
   * `sentWall`/`receivedWall` its wall clock (ms), `serverRx` the server's receive time (ms) and
   * `holdUs` how long the server held the message.
   */
  add(sentAt: number, receivedAt: number, sentWall: number, receivedWall: number, serverRx: number, holdUs: number): number {
    const hold = holdUs / 1000;
    const rtt = Math.max(0, receivedAt - sentAt - hold);
    this.count++;
    this.sum += rtt;
    this.min = Math.min(this.min, rtt);
    this.max = Math.max(this.max, rtt);
    if (rtt <= this.offsetRtt) {
      this.offsetRtt = rtt;
      this.offset = (serverRx - sentWall + (serverRx + hold - receivedWall)) / 2;
    }
    return rtt;
  }

  get rtt(): RttSummary | undefined {
    if (this.count === 0) return undefined;
    return { samples: this.count, minMs: this.min, avgMs: this.sum / this.count, maxMs: this.max };
  }

  /** Estimated server clock minus device clock, ms; undefined before the first sample. */
  get clockOffsetMs(): number | undefined {
    return this.offset;
  }
}

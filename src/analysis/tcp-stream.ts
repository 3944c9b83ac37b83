// One direction of a TCP connection: remembers which sequence ranges it has seen (to tell new
// data from retransmissions, out-of-order segments and keep-alives) and reassembles the payload
// into an in-order byte stream, holding early segments until the gap before them is filled.
// Memory is bounded: the stream stops growing at `maxBytes`, at most `maxPending` out-of-order
// segments are held, and at most `maxPending` separate seen ranges are remembered (beyond that
// the lowest gap is forgotten, i.e. treated as seen).
//
// Sequence numbers are taken relative to the direction's first sequence number (modulo 2^32),
// so ranges are plain numbers as long as a direction carries less than 2 GiB.

export interface StreamLimits {
  /** Bytes of reassembled payload kept per direction; later bytes are counted, not kept. */
  readonly maxBytes: number;
  /** Out-of-order segments held per direction while waiting for a gap to fill. */
  readonly maxPending: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxBytes: 16 * 1024 * 1024, maxPending: 1024 };

/** How a segment relates to what the direction had already sent. */
export const SequenceVerdict = {
  /** Carries sequence space beyond everything seen before (or is the first segment seen). */
  NEW: 'new',
  /** Carries sequence space not seen before, but below the highest seen (a gap being filled). */
  OUT_OF_ORDER: 'out-of-order',
  /** Carries no sequence space (pure ACK, RST without data, window update). */
  EMPTY: 'empty',
  /** Its whole sequence range was already seen. */
  RETRANSMISSION: 'retransmission',
  /** A zero- or one-byte segment one below the next expected sequence number. */
  KEEP_ALIVE: 'keep-alive',
} as const;
export type SequenceVerdict = (typeof SequenceVerdict)[keyof typeof SequenceVerdict];

/** Signed distance from a to b modulo 2^32 (positive when b is after a). */
function seqDiff(a: number, b: number): number {
  return (b - a) | 0;
}

interface Pending {
  readonly start: number;
  readonly bytes: Uint8Array;
}

export interface SegmentInput {
  readonly seq: number;
  readonly syn: boolean;
  readonly fin: boolean;
  readonly rst: boolean;
  /** Payload length on the wire. */
  readonly payloadLength: number;
  /** The captured payload (shorter than payloadLength when the frame was truncated). */
  readonly payload: Uint8Array;
}

export class TcpDirection {
  private readonly limits: StreamLimits;
  /** Sequence number of the first SYN seen, if any. */
  initialSeq: number | null = null;
  /** Sequence number of stream offset 0. */
  private base: number | null = null;
  /** Sorted, disjoint, non-adjacent [start, end) ranges of sequence space seen, relative to base. */
  private seen: [number, number][] = [];
  private readonly chunks: Uint8Array[] = [];
  private pending: Pending[] = [];
  /** Stream offset of the next byte to deliver. */
  private delivered = 0;
  /** Bytes kept in `chunks`. */
  private kept = 0;
  /** Set once bytes had to be dropped (limit reached, capture truncated, too much pending). */
  private lossAt: number | null = null;

  constructor(limits: StreamLimits = DEFAULT_STREAM_LIMITS) {
    this.limits = limits;
  }

  /** Feeds one segment; returns how it relates to what this direction already sent. */
  add(segment: SegmentInput): SequenceVerdict {
    const length = segment.payloadLength + (segment.syn ? 1 : 0) + (segment.fin ? 1 : 0);
    if (segment.syn && this.initialSeq === null) this.initialSeq = segment.seq;
    if (this.base === null) this.base = segment.syn ? (segment.seq + 1) >>> 0 : segment.seq;
    const start = seqDiff(this.base, segment.seq);
    const end = start + length;
    const highest = this.seen.at(-1)?.[1];

    let verdict: SequenceVerdict;
    if (highest === undefined) {
      verdict = length === 0 ? SequenceVerdict.EMPTY : SequenceVerdict.NEW;
    } else if (length <= 1 && !segment.syn && !segment.fin && !segment.rst && start === highest - 1) {
      verdict = SequenceVerdict.KEEP_ALIVE;
    } else if (length === 0) {
      verdict = SequenceVerdict.EMPTY;
    } else if (this.covered(start, end)) {
      verdict = SequenceVerdict.RETRANSMISSION;
    } else {
      verdict = start < highest ? SequenceVerdict.OUT_OF_ORDER : SequenceVerdict.NEW;
    }
    if (length > 0) this.mark(start, end);

    if (segment.payloadLength > 0) {
      const dataStart = segment.syn ? start + 1 : start;
      this.reassemble(dataStart, segment.payload, segment.payloadLength);
    }
    return verdict;
  }

  private covered(start: number, end: number): boolean {
    return this.seen.some(([s, e]) => s <= start && end <= e);
  }

  /** Adds [start, end) to the seen ranges, merging overlapping and adjacent ones. */
  private mark(start: number, end: number): void {
    let s = start;
    let e = end;
    const kept: [number, number][] = [];
    for (const range of this.seen) {
      if (range[1] < s || range[0] > e) kept.push(range);
      else {
        s = Math.min(s, range[0]);
        e = Math.max(e, range[1]);
      }
    }
    kept.push([s, e]);
    kept.sort((x, y) => x[0] - y[0]);
    while (kept.length > Math.max(1, this.limits.maxPending)) {
      // Forget the lowest gap: merge the two lowest ranges.
      const [first, second] = kept;
      if (first === undefined || second === undefined) break;
      kept.splice(0, 2, [first[0], Math.max(first[1], second[1])]);
    }
    this.seen = kept;
  }

  private reassemble(start: number, captured: Uint8Array, wireLength: number): void {
    if (this.lossAt !== null) return;
    const end = start + wireLength;
    if (end <= this.delivered) return;
    if (captured.length < wireLength) {
      // Part of this payload was never captured: the stream cannot continue past it.
      if (start <= this.delivered) this.deliver(start, captured);
      this.lossAt = Math.max(this.delivered, start);
      return;
    }
    if (start > this.delivered) {
      if (this.pending.length >= this.limits.maxPending) {
        this.lossAt = this.delivered;
        return;
      }
      this.pending.push({ start, bytes: captured });
      return;
    }
    this.deliver(start, captured);
    this.drainPending();
  }

  /** Appends the part of `bytes` (starting at stream offset `start` ≤ delivered) not yet delivered. */
  private deliver(start: number, bytes: Uint8Array): void {
    const fresh = bytes.subarray(Math.max(0, this.delivered - start));
    if (fresh.length === 0) return;
    const room = this.limits.maxBytes - this.kept;
    const keep = fresh.subarray(0, Math.max(0, room));
    if (keep.length > 0) {
      this.chunks.push(keep);
      this.kept += keep.length;
    }
    this.delivered += fresh.length;
    if (keep.length < fresh.length) this.lossAt = this.kept;
  }

  private drainPending(): void {
    let progressed = true;
    while (progressed && this.lossAt === null) {
      progressed = false;
      const remaining: Pending[] = [];
      for (const p of this.pending) {
        if (p.start + p.bytes.length <= this.delivered) {
          progressed = true;
        } else if (p.start <= this.delivered) {
          this.deliver(p.start, p.bytes);
          progressed = true;
        } else {
          remaining.push(p);
        }
      }
      this.pending = remaining;
    }
  }

  /** The in-order payload kept so far (a copy). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.kept);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  /** Payload bytes delivered in order (kept or not). */
  get deliveredBytes(): number {
    return this.delivered;
  }

  /** Bytes kept (at most limits.maxBytes). */
  get keptBytes(): number {
    return this.kept;
  }

  /** Out-of-order bytes still waiting for a gap to fill. */
  get pendingBytes(): number {
    return this.pending.reduce((sum, p) => sum + p.bytes.length, 0);
  }

  /**
   * Stream offset from which bytes were lost (size limit, snap length, too many out-of-order
   * segments), or null if the kept stream is complete so far.
   */
  get lostFrom(): number | null {
    return this.lossAt;
  }
}

// The device's side of an rudp session (PROTOCOL.md §7) on a datagram link. RudpSender keeps the
// books (held messages, window, Karn RTT, backoff, fast retransmit); this file numbers messages,
// drives one timer from the sender's deadline, the keepalive and the silence bound, opens and
// reopens the session with HELLO, follows the server's epoch, gives up, and rewrites the `latest`
// readings of a message it sends again (§7.7).
//
// What is held for retransmission: every message that takes a seq — READINGS, HELLO, PING, PONG,
// the ACK of a CONFIG, BYE. The server's cumulative point passes a seq only once that seq has
// arrived (§7.2), and a HELLO's resume seq only skips seqs below the lowest one held (§6.1), so a
// control message lost and never sent again would stall the session for good. Retransmitting a
// control message is harmless: the server takes it as a duplicate and acknowledges it.
import { ErrorCode, ProtocolError, type Message, type MessageOf, type Reading } from '../protocol/index.ts';
import { RUDP_WINDOW, RudpSender, type Held } from '../transport/rudp/index.ts';
import type { DeviceEvent, Sample } from './events.ts';
import type { Timing } from './timing.ts';

/** A device with nothing to send for this long sends PING (§7.9). */
export const KEEPALIVE_MS = 15_000;
/** Nothing heard from the server for this long while messages are unacknowledged: give up (§7.9). */
export const SILENCE_MS = 30_000;

export type Control =
  | Omit<MessageOf<'PING'>, 'seq'>
  | Omit<MessageOf<'PONG'>, 'seq'>
  | Omit<MessageOf<'BYE'>, 'seq'>
  | Omit<MessageOf<'ACK'>, 'seq' | 'rudp'>;

export type HelloBody = Omit<MessageOf<'HELLO'>, 'seq' | 'resumeSeq' | 'reliable'>;

export interface RudpSessionOptions {
  readonly deviceId: number;
  /** Encodes a message as the device does (its key, the UDP size limit). */
  readonly encode: (message: Message) => Uint8Array;
  /** Sends one datagram; false when the link is closed. */
  readonly send: (bytes: Uint8Array) => boolean;
  /** The HELLO as it stands now (session, interval, catalogue). */
  readonly hello: () => HelloBody;
  /** Ids of the sensors of the `latest` delivery class. */
  readonly latest: ReadonlySet<number>;
  /** The device's samples not yet put into a message; a resend may take the newest of a sensor. */
  readonly waiting: () => Sample[];
  readonly timing?: Timing;
  readonly onEvent?: (event: DeviceEvent) => void;
  /** Monotonic clock, ms. Default performance.now. */
  readonly now?: () => number;
  readonly keepaliveMs?: number;
  readonly silenceMs?: number;
  /** READINGS waiting for a seq, at most; beyond it the oldest is dropped. Default 1000. */
  readonly queueLimit?: number;
}

/** A message not numbered yet: it takes its seq when the window lets it go. */
type Pending =
  | { readonly kind: 'readings'; samples: Sample[] }
  | { readonly kind: 'control'; readonly message: Control; readonly numbered?: (seq: number) => void };

/** What a held seq carries: enough to build it again and to account for it once acknowledged. */
interface Carried {
  type: Message['type'];
  samples: Sample[];
  readonly control?: Control;
  /** It was a READINGS when first sent (it may have become a PING since, §7.7). */
  readonly wasReadings: boolean;
  /** Wall-clock time of its latest send (ms), for the clock offset. */
  wall: number;
}

export interface RudpCounters {
  messagesSent: number;
  messagesAcked: number;
  readingsSent: number;
  readingsAcked: number;
  readingsRejected: number;
  duplicates: number;
  timeouts: number;
  fastRetransmits: number;
  probes: number;
  resyncResends: number;
  /** `latest` readings dropped from a resend because the sensor had a newer sample. */
  superseded: number;
  /** Of those, the ones whose place a newer waiting sample took. */
  replaced: number;
  gaveUp: number;
  resyncs: number;
  keepalives: number;
  droppedMessages: number;
  droppedReadings: number;
}

/** A READINGS of these samples; the base time is the oldest sample's, so every delta is ≥ 0. */
export function readingsMessage(deviceId: number, samples: readonly Sample[], seq: number): MessageOf<'READINGS'> {
  const baseTime = samples.length === 0 ? Date.now() : Math.min(...samples.map((s) => s.ts));
  const readings = samples.map((s): Reading => ({ sensor: s.sensor, delta: s.ts - baseTime, ...s.value }) as Reading);
  return { type: 'READINGS', deviceId, seq, baseTime, readings };
}

export class RudpSession {
  readonly sender = new RudpSender();
  readonly counters: RudpCounters = {
    messagesSent: 0, messagesAcked: 0, readingsSent: 0, readingsAcked: 0, readingsRejected: 0, duplicates: 0,
    timeouts: 0, fastRetransmits: 0, probes: 0, resyncResends: 0, superseded: 0, replaced: 0, gaveUp: 0,
    resyncs: 0, keepalives: 0, droppedMessages: 0, droppedReadings: 0,
  };
  private readonly o: RudpSessionOptions;
  private readonly now: () => number;
  private readonly keepaliveMs: number;
  private readonly silenceMs: number;
  private readonly pending: Pending[] = [];
  private readonly carried = new Map<number, Carried>();
  /** Newest sample (by order) of each sensor sent so far, in any message. */
  private readonly newestSent = new Map<number, number>();
  /** Samples sent at least once (so a resend does not count them again). */
  private readonly sentSamples = new WeakSet<Sample>();
  /** Epochs of server instances that are gone: their late ACKs are ignored. */
  private readonly retired = new Set<number>();
  private nextSeq = 1;
  private helloSeq = 0;
  private helloDone = false;
  private epochNow: number | undefined;
  private byeSeq = 0;
  private byeDone: (() => void) | undefined;
  private lastHeard = 0;
  private lastSent = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(options: RudpSessionOptions) {
    this.o = options;
    this.now = options.now ?? (() => performance.now());
    this.keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
    this.silenceMs = options.silenceMs ?? SILENCE_MS;
  }

  /** The server's epoch as the device holds it. */
  get epoch(): number | undefined {
    return this.epochNow;
  }

  /** True once the current HELLO is acknowledged. */
  get open(): boolean {
    return this.helloDone;
  }

  /** Messages held or waiting for a seq. */
  get busy(): boolean {
    return this.sender.size > 0 || this.pending.length > 0;
  }

  /** READINGS messages and their readings never acknowledged (held or waiting). */
  unacknowledged(): { messages: number; readings: number } {
    let messages = 0;
    let readings = 0;
    for (const c of this.carried.values()) {
      if (c.type !== 'READINGS') continue;
      messages++;
      readings += c.samples.length;
    }
    for (const p of this.pending) {
      if (p.kind !== 'readings') continue;
      messages++;
      readings += p.samples.length;
    }
    return { messages, readings };
  }

  /** Opens the session: HELLO, RELIABLE, resume seq = its own seq. */
  start(): void {
    this.lastHeard = this.now();
    this.hello();
    this.flush();
  }

  /** Stops the timer; nothing more is sent or taken. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.byeDone?.();
  }

  /** A READINGS to send, numbered when the window lets it go. */
  addReadings(samples: Sample[]): void {
    const limit = this.o.queueLimit ?? 1000;
    while (this.pending.filter((p) => p.kind === 'readings').length >= limit) {
      const oldest = this.pending.findIndex((p) => p.kind === 'readings');
      const [gone] = this.pending.splice(oldest, 1);
      this.counters.droppedMessages++;
      if (gone?.kind === 'readings') this.counters.droppedReadings += gone.samples.length;
    }
    this.pending.push({ kind: 'readings', samples });
    this.flush();
  }

  /** A control message (PONG, PING, the ACK of a CONFIG, BYE): ahead of waiting READINGS. */
  enqueue(message: Control, numbered?: (seq: number) => void): void {
    const at = this.pending.findIndex((p) => p.kind === 'readings');
    const entry: Pending = { kind: 'control', message, ...(numbered ? { numbered } : {}) };
    if (at < 0) this.pending.push(entry);
    else this.pending.splice(at, 0, entry);
    this.flush();
  }

  /**
   * Sends BYE after everything else, READINGS still waiting for a seq included, so that its ACK
   * (cumulative) covers the whole session; resolves once it is acknowledged (or the session is
   * closed).
   */
  bye(reason: number): Promise<void> {
    return new Promise((resolve) => {
      this.byeDone = resolve;
      this.pending.push({ kind: 'control', message: { type: 'BYE', deviceId: this.o.deviceId, reason }, numbered: (seq) => (this.byeSeq = seq) });
      this.flush();
    });
  }

  /** Anything from the server counts as a sign of life (§7.9). */
  heard(): void {
    this.lastHeard = this.now();
  }

  // ---- from the server ----------------------------------------------------------------------

  onAck(m: MessageOf<'ACK'>): void {
    if (this.closed || m.rudp === undefined) return;
    this.heard();
    const { epoch } = m.rudp;
    // An ACK from a server instance that has since restarted, delayed on the way.
    if (this.retired.has(epoch)) return;
    if (m.status === 'RESYNC') {
      // While a HELLO is on its way, a RESYNC answers something sent before it; that HELLO
      // (sent again by the timer if lost) re-creates the state.
      if (this.helloDone) this.resync('RESYNC', epoch);
      return;
    }
    if (this.epochNow !== undefined && epoch !== this.epochNow) {
      this.resync('epoch', epoch);
      return;
    }
    this.epochNow = epoch;
    if (m.status === 'DUPLICATE') this.counters.duplicates++;
    const now = this.now();
    const r = this.sender.ack({ ackSeq: m.ackSeq, sack: m.rudp.sack, window: m.rudp.window, holdUs: m.holdUs }, now);
    let rttMs = r.rttMs;
    if (r.sampled && rttMs !== undefined && this.o.timing) {
      const wall = this.carried.get(r.sampled.seq)?.wall ?? Date.now();
      rttMs = this.o.timing.add(r.sampled.sentAt, now, wall, Date.now(), m.rxTime, m.holdUs);
    }
    for (const h of r.acknowledged) {
      const c = this.carried.get(h.seq);
      this.carried.delete(h.seq);
      if (c) this.settled(h.seq, c, m.status, h === r.sampled ? rttMs : undefined);
    }
    if (!this.helloDone && this.sender.get(this.helloSeq)?.sacked === true) this.helloAcked(m.status);
    for (const h of r.retransmit) this.transmit(h, 'fast');
    this.flush();
  }

  onError(code: number, refSeq: number): void {
    if (this.closed) return;
    this.heard();
    const c = this.carried.get(refSeq);
    switch (code) {
      case ErrorCode.UNKNOWN_DEVICE:
        // The server has no session for us: as RESYNC (a server may answer so before §7.8).
        if (this.helloDone) this.resync('RESYNC', this.epochNow ?? 0);
        break;
      case ErrorCode.UNKNOWN_SENSOR:
      case ErrorCode.UNEXPECTED: {
        // A READINGS refused for good: the server's point passes over it (§7.2), and sending it
        // again cannot help. (A HELLO refused stays held: the session cannot go on without it.)
        // BAD_TAG is not among them: a message with a bad tag is not received at all, so the
        // point stops below it, and only a resend (a copy damaged on the way) can move it on.
        if (!c || c.type !== 'READINGS') break;
        this.sender.remove(refSeq);
        this.carried.delete(refSeq);
        if (c.type === 'READINGS') this.counters.readingsRejected += c.samples.length;
        this.flush();
        break;
      }
      case ErrorCode.STORAGE: {
        // Not committed, and forgotten by the server (§7.2): its range no longer counts, so that
        // loss detection and the timer send it again.
        const held = this.sender.get(refSeq);
        if (held) held.sacked = false;
        break;
      }
      default:
        // The rest (BAD_TAG, REPLAY…): it stays held, and the timer sends it again.
        break;
    }
  }

  private settled(seq: number, c: Carried, status: string, rttMs: number | undefined): void {
    const rtt = rttMs !== undefined ? { rttMs } : {};
    if (c.wasReadings) {
      this.counters.messagesAcked++;
      this.counters.readingsAcked += c.samples.length;
      this.o.onEvent?.({ kind: 'ack', ackSeq: seq, status, what: 'READINGS', readings: c.samples.length, ...rtt });
    } else if (seq === this.helloSeq && !this.helloDone) {
      this.helloAcked(status);
    } else if (seq === this.byeSeq) {
      this.o.onEvent?.({ kind: 'ack', ackSeq: seq, status, what: 'BYE', readings: 0 });
      this.byeDone?.();
    }
  }

  private helloAcked(status: string): void {
    this.helloDone = true;
    this.sender.pin(undefined);
    this.o.onEvent?.({ kind: 'ack', ackSeq: this.helloSeq, status, what: 'HELLO', readings: 0 });
  }

  // ---- opening, resynchronising, giving up -----------------------------------------------------

  /**
   * Puts a HELLO in front of everything. A HELLO not yet acknowledged goes again with its own seq
   * (and a fresh resume seq): a second one would leave the first one's seq missing for ever.
   */
  private hello(): void {
    if (this.helloSeq !== 0 && !this.helloDone && this.sender.get(this.helloSeq)) {
      this.sender.pin(this.helloSeq);
      return;
    }
    const seq = this.nextSeq++;
    this.helloSeq = seq;
    this.helloDone = false;
    this.carried.set(seq, { type: 'HELLO', samples: [], wasReadings: false, wall: 0 });
    this.sender.add(seq, this.build(seq));
    this.sender.pin(seq);
  }

  /** RESYNC, or a new epoch (§7.8): HELLO with the lowest seq held, then everything held again. */
  private resync(reason: 'RESYNC' | 'epoch', epoch: number): void {
    if (this.epochNow !== undefined && epoch !== this.epochNow) this.retired.add(this.epochNow);
    this.epochNow = epoch;
    this.counters.resyncs++;
    const resumeSeq = this.reopen();
    this.o.onEvent?.({ kind: 'resync', reason, epoch, resumeSeq, held: this.sender.size });
    this.flush();
  }

  /** GAVE_UP (§7.9): reported, and the session opened again; everything held is kept. */
  private giveUp(reason: 'retransmissions' | 'silence', seq: number): void {
    this.counters.gaveUp++;
    this.o.onEvent?.({ kind: 'gave-up', code: ErrorCode.GAVE_UP, reason, seq, held: this.sender.size });
    this.reopen();
    this.flush();
  }

  private reopen(): number {
    const resumeSeq = Math.min(this.sender.lowest ?? this.nextSeq, this.nextSeq);
    this.sender.reset(resumeSeq - 1);
    this.hello();
    this.lastHeard = this.now();
    return resumeSeq;
  }

  // ---- sending ------------------------------------------------------------------------------

  private build(seq: number): Uint8Array {
    const c = this.carried.get(seq);
    if (!c) throw new RangeError(`seq ${seq} is not held`);
    const deviceId = this.o.deviceId;
    switch (c.type) {
      case 'HELLO': {
        const resumeSeq = Math.min(this.sender.lowest ?? seq, seq);
        return this.o.encode({ ...this.o.hello(), type: 'HELLO', seq, resumeSeq, reliable: true });
      }
      case 'READINGS':
        return this.o.encode({ ...readingsMessage(deviceId, c.samples, seq), reliable: true });
      case 'PING':
        if (!c.control) return this.o.encode({ type: 'PING', deviceId, seq, reliable: true });
        break;
      default:
        break;
    }
    const m = c.control;
    if (!m) throw new RangeError(`seq ${seq} has nothing to send`);
    // The device's ACK (of a CONFIG) carries the rudp fields that the RELIABLE flag adds to an
    // ACK: the epoch it holds, and no ranges (the device keeps no books on the server's seqs).
    if (m.type === 'ACK') return this.o.encode({ ...m, seq, rudp: { epoch: this.epochNow ?? 0, window: RUDP_WINDOW, sack: [] } });
    return this.o.encode({ ...m, seq, reliable: true });
  }

  /**
   * Gives seqs to waiting messages while the window and the 64-message bound allow — less one
   * seq: a HELLO that reopens the session takes the next one, and it must fall inside the window
   * of a server that starts again at the lowest seq held (§7.2), or it would not be recorded.
   */
  private number(): void {
    if (!this.helloDone) return;
    const s = this.sender;
    const room = (): number => Math.min(s.peerWindow, RUDP_WINDOW) - 1;
    while (this.pending.length > 0 && s.size < room() && this.nextSeq <= s.cumulative + room()) {
      const p = this.pending.shift()!;
      const seq = this.nextSeq++;
      if (p.kind === 'readings') {
        this.carried.set(seq, { type: 'READINGS', samples: p.samples, wasReadings: true, wall: 0 });
      } else {
        this.carried.set(seq, { type: p.message.type, samples: [], control: p.message, wasReadings: false, wall: 0 });
        p.numbered?.(seq);
      }
      s.add(seq, this.build(seq));
    }
  }

  /** Numbers and sends what may go now, then sets the timer. */
  private flush(): void {
    if (this.closed) return;
    this.number();
    for (const h of this.sender.sendable()) if (!this.transmit(h, 'resync')) break;
    this.schedule();
  }

  /** Sends a held message, the first time or again (rebuilt: a fresh resume seq, newer samples). */
  private transmit(h: Held, reason: 'timeout' | 'probe' | 'fast' | 'resync'): boolean {
    const c = this.carried.get(h.seq);
    if (!c) return false;
    const again = h.sends > 0;
    let rewritten = { superseded: 0, replaced: 0 };
    if (again && c.type === 'READINGS') rewritten = this.rewrite(c);
    if (again || c.type === 'HELLO') h.bytes = this.build(h.seq);
    if (!this.o.send(h.bytes)) return false;
    const now = this.now();
    this.sender.sent(h, now);
    c.wall = Date.now();
    this.lastSent = now;
    for (const sample of c.samples) {
      if (!this.sentSamples.has(sample)) {
        this.sentSamples.add(sample);
        this.counters.readingsSent++;
      }
      if (sample.order > (this.newestSent.get(sample.sensor) ?? -1)) this.newestSent.set(sample.sensor, sample.order);
    }
    if (!again) {
      if (c.wasReadings) this.counters.messagesSent++;
      return true;
    }
    if (reason === 'timeout') this.counters.timeouts++;
    else if (reason === 'probe') this.counters.probes++;
    else if (reason === 'fast') this.counters.fastRetransmits++;
    else this.counters.resyncResends++;
    this.o.onEvent?.({ kind: 'retransmit', seq: h.seq, reason, cumulative: this.sender.cumulative, readings: c.samples.length, ...rewritten });
    return true;
  }

  /**
   * §7.7: before a READINGS goes again, every `latest` reading whose sensor has a newer sample
   * leaves it — the newer one sent already (in any message), or waiting, in which case the
   * newest waiting sample takes its place. Nothing left: the seq goes as a PING.
   */
  private rewrite(c: Carried): { superseded: number; replaced: number } {
    const kept: Sample[] = [];
    const swaps: { index: number; take: Taken }[] = [];
    let superseded = 0;
    for (const s of c.samples) {
      if (!this.o.latest.has(s.sensor)) {
        kept.push(s);
        continue;
      }
      if (c.samples.some((other) => other.sensor === s.sensor && other.order > s.order)) {
        superseded++;
        continue;
      }
      const take = this.newestWaiting(s.sensor, s.order);
      if (take) {
        superseded++;
        swaps.push({ index: kept.length, take });
        kept.push(take.sample);
        continue;
      }
      if ((this.newestSent.get(s.sensor) ?? -1) > s.order) {
        superseded++;
        continue;
      }
      kept.push(s);
    }
    if (superseded === 0) return { superseded: 0, replaced: 0 };
    let samples = kept;
    if (swaps.length > 0 && !this.fits(samples)) {
      // A newer sample can need a longer delta: if the message would pass the datagram limit,
      // leave the stale readings out without taking the waiting ones.
      const swapped = new Set(swaps.map((s) => s.index));
      samples = kept.filter((_, i) => !swapped.has(i));
      swaps.length = 0;
    }
    for (const s of swaps) s.take.remove();
    this.counters.superseded += superseded;
    this.counters.replaced += swaps.length;
    c.samples = samples;
    if (samples.length === 0) c.type = 'PING';
    return { superseded, replaced: swaps.length };
  }

  private fits(samples: readonly Sample[]): boolean {
    try {
      this.o.encode(readingsMessage(this.o.deviceId, samples, 0xffff_ffff));
      return true;
    } catch (error) {
      if (error instanceof ProtocolError) return false;
      throw error;
    }
  }

  /** The newest sample of a sensor newer than `order` not sent yet: the device's buffer or a waiting READINGS. */
  private newestWaiting(sensor: number, order: number): Taken | undefined {
    let best: Taken | undefined;
    const consider = (list: Sample[], onEmpty?: () => void): void => {
      for (const sample of list) {
        if (sample.sensor !== sensor || sample.order <= order || (best && best.sample.order >= sample.order)) continue;
        best = {
          sample,
          remove: () => {
            const i = list.indexOf(sample);
            if (i >= 0) list.splice(i, 1);
            if (list.length === 0) onEmpty?.();
          },
        };
      }
    };
    consider(this.o.waiting());
    for (const p of this.pending) {
      if (p.kind !== 'readings') continue;
      consider(p.samples, () => {
        const i = this.pending.indexOf(p);
        if (i >= 0) this.pending.splice(i, 1);
      });
    }
    return best;
  }

  // ---- the timer ----------------------------------------------------------------------------

  /** One timer: the retransmission deadline, the silence bound, or the keepalive, whichever is first. */
  private schedule(): void {
    if (this.closed) return;
    const s = this.sender;
    let next = s.deadline() ?? Infinity;
    if (s.outstanding()) next = Math.min(next, this.lastHeard + this.silenceMs);
    if (!this.busy) next = Math.min(next, this.lastSent + this.keepaliveMs);
    if (next === this.timerAt && this.timer !== undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(next - this.now())));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = this.now();
    const s = this.sender;
    if (s.outstanding() && now - this.lastHeard >= this.silenceMs) {
      this.giveUp('silence', s.lowest ?? 0);
      return;
    }
    const deadline = s.deadline();
    if (deadline !== undefined && now >= deadline) {
      const e = s.expire(now);
      if (e.gaveUp) {
        this.giveUp('retransmissions', e.stuck?.seq ?? 0);
        return;
      }
      const reason = e.reason === 'timeout' && s.peerWindow === 0 && s.pinnedSeq === undefined ? 'probe' : e.reason;
      for (const h of e.retransmit) this.transmit(h, reason);
    }
    if (!this.busy && now - this.lastSent >= this.keepaliveMs) {
      this.counters.keepalives++;
      this.enqueue({ type: 'PING', deviceId: this.o.deviceId });
      return;
    }
    this.schedule();
  }
}

interface Taken {
  readonly sample: Sample;
  readonly remove: () => void;
}

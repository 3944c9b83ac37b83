// A simulated device: HELLO, then READINGS of its sensors every interval, in batches; obeys
// CONFIG; over TCP it reconnects with backoff and resends what was never acknowledged; over
// plain UDP it counts what was never acknowledged; over rudp (UDP with `reliable`) its
// RudpSession delivers every message, in order. run() resolves with a summary.
import {
  ErrorCode, Limits, encode, errorCodeName,
  type ConfigBody, type ErrorCodeName, type Frame, type Message, type MessageOf,
} from '../protocol/index.ts';
import type { Connection, Transport } from '../transport/types.ts';
import type { DeviceEvent, Sample } from './events.ts';
import { Outbox } from './outbox.ts';
import { createRandom } from './random.ts';
import { RudpSession, readingsMessage, type Control } from './rudp.ts';
import { simulatedSensors, type SimulatedSensor, type SimulationOptions } from './sensors.ts';
import { Timing, type RttSummary } from './timing.ts';

export type { DeviceEvent } from './events.ts';

export interface DeviceOptions {
  readonly id: number;
  readonly transport: Transport;
  /**
   * rudp (PROTOCOL.md §7): every message RELIABLE, retransmitted until the server's cumulative
   * ack covers it. Needs a datagram transport (UDP). Default false.
   */
  readonly reliable?: boolean;
  readonly host: string;
  readonly port: number;
  /** Time between sampling rounds (every enabled sensor is read once a round), ms. */
  readonly intervalMs: number;
  /** Readings per READINGS message (1…255). */
  readonly batch: number;
  /** Stop after this many readings. Default: run until aborted. */
  readonly count?: number;
  readonly seed?: number;
  /** Pre-shared key: every message carries an authentication tag. */
  readonly key?: Uint8Array;
  /** Session number. Default: Unix seconds now. */
  readonly session?: number;
  /** Unacknowledged messages in flight at once (TCP). Default 64. */
  readonly window?: number;
  /** Unacknowledged messages held (rudp: waiting for a seq); beyond it the oldest is dropped. Default 1000. */
  readonly queueLimit?: number;
  /** UDP: an ACK later than this counts as lost. Default 2000 ms. */
  readonly ackTimeoutMs?: number;
  /** At the end: how long to wait for outstanding acknowledgements. Default 10 s. */
  readonly drainMs?: number;
  /** TCP reconnect backoff: first and largest delay. Defaults 100 ms and 5 s. */
  readonly backoffMs?: { readonly min: number; readonly max: number };
  readonly simulation?: SimulationOptions;
  readonly model?: string;
  readonly firmware?: string;
  /** Aborting stops sampling, drains, says BYE and resolves run(). */
  readonly signal?: AbortSignal;
  /** Called for every reply and connection event, for printing. */
  readonly onEvent?: (event: DeviceEvent) => void;
}

/** What an rudp device adds to its summary (PROTOCOL.md §7). */
export interface RudpSummary {
  /** The server's epoch the device held at the end. */
  readonly epoch: number | null;
  /** Smoothed RTT and its variation (RFC 6298), null before the first sample. */
  readonly srttMs: number | null;
  readonly rttvarMs: number | null;
  /** The retransmission timeout at the end, backoff included. */
  readonly rtoMs: number;
  /** Sends again, by cause: the RTO, a probe (tail loss or zero window), fast retransmit (RACK), a resynchronisation. */
  readonly retransmissions: { readonly timeout: number; readonly probe: number; readonly fast: number; readonly resync: number };
  /** Times the device gave up (GAVE_UP, 40) and opened the session again. */
  readonly gaveUp: number;
  /** Resynchronisations: RESYNC answers and new epochs. */
  readonly resyncs: number;
  /** PINGs sent because nothing else was to be sent for 15 s. */
  readonly keepalives: number;
  /** `latest` readings left out of resends for a newer sample, and the newer waiting samples that took their place. */
  readonly superseded: number;
  readonly replaced: number;
}

export interface DeviceSummary {
  readonly device: number;
  readonly transport: string;
  readonly session: number;
  readonly durationMs: number;
  readonly readings: {
    readonly generated: number;
    readonly sent: number;
    readonly acknowledged: number;
    readonly unacknowledged: number;
    readonly rejected: number;
    readonly dropped: number;
    /** rudp: `latest` readings a newer sample superseded before they were acknowledged (§7.7). */
    readonly superseded: number;
  };
  readonly messages: {
    readonly sent: number;
    readonly acknowledged: number;
    readonly duplicates: number;
    readonly retransmissions: number;
    readonly unacknowledged: number;
  };
  /** Every datagram or frame, retransmissions included. */
  readonly bytes: { readonly sent: number; readonly received: number };
  readonly rtt: RttSummary | null;
  readonly clockOffsetMs: number | null;
  readonly reconnects: number;
  readonly configsApplied: number;
  readonly intervalMs: number;
  /** Present for rudp only. */
  readonly rudp?: RudpSummary;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

/**
 * Seqs a TCP device lets lie between the oldest message it holds and the next one it numbers:
 * the server's replay window (64, PROTOCOL.md §8) less room for the HELLO of a reconnect and a
 * few control messages (ACKs of CONFIG, PONGs, more HELLOs) sent meanwhile.
 */
const SEQ_SPAN = 64 - 8;

/** Plain UDP: a HELLO not acknowledged within this long is sent again (at most the ACK timeout). */
const HELLO_RETRY_MS = 500;

/** Bytes of the varint TCP length prefix of a message of n bytes. */
const prefixLength = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);

export class SimulatedDevice {
  private readonly o: DeviceOptions;
  private readonly sensors: SimulatedSensor[];
  private readonly enabled: Set<number>;
  private readonly names: Map<number, string>;
  private readonly outbox: Outbox;
  private readonly timing = new Timing();
  private readonly session: number;
  private readonly maxMessage: number;
  private readonly stream: boolean;
  /** The rudp session, when `reliable`. */
  private readonly rudp: RudpSession | undefined;
  /** Ends connection attempts and waits once the device is finished. */
  private readonly shutdown = new AbortController();
  /** Pending retries (later()), cleared when the run ends. */
  private readonly timers = new Set<NodeJS.Timeout>();

  private intervalMs: number;
  private nextSeq = 1;
  private helloSeq = 0;
  private configId = 0;
  private buffer: Sample[] = [];
  private link: Connection | undefined;
  private started = 0;
  private finishing = false;
  private wake: (() => void) | undefined;
  private byeSeq = 0;
  private byeAcked: (() => void) | undefined;
  private helloAcked = false;
  /** When the latest HELLO was sent (monotonic ms), for UDP's HELLO retry. */
  private helloSentAt = 0;
  private wakeDrain: (() => void) | undefined;

  private generated = 0;
  private readingsSent = 0;
  private readingsAcked = 0;
  private readingsRejected = 0;
  private readingsUnacked = 0;
  private messagesSent = 0;
  private messagesAcked = 0;
  private duplicates = 0;
  private retransmissions = 0;
  private messagesUnacked = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private reconnects = 0;
  private configsApplied = 0;

  constructor(options: DeviceOptions) {
    if (!Number.isInteger(options.batch) || options.batch < 1 || options.batch > Limits.MAX_READINGS) {
      throw new RangeError(`batch must be 1…${Limits.MAX_READINGS}, not ${options.batch}`);
    }
    this.o = options;
    this.sensors = simulatedSensors(createRandom(options.seed ?? options.id), options.simulation);
    this.enabled = new Set(this.sensors.map((s) => s.spec.id));
    this.names = new Map(this.sensors.map((s) => [s.spec.id, s.spec.name]));
    this.outbox = new Outbox(options.queueLimit ?? 1000);
    this.session = options.session ?? Math.floor(Date.now() / 1000);
    this.intervalMs = options.intervalMs;
    this.stream = options.transport.kind !== 'udp';
    if (options.reliable === true && options.transport.kind !== 'udp') {
      throw new RangeError(`rudp runs over UDP, not ${options.transport.kind}`);
    }
    this.maxMessage = this.stream ? Limits.MAX_TCP_MESSAGE : Limits.MAX_UDP_MESSAGE;
    this.rudp = options.reliable === true ? this.rudpSession() : undefined;
  }

  private rudpSession(): RudpSession {
    const latest = new Set(this.sensors.filter((s) => s.spec.delivery === 'latest').map((s) => s.spec.id));
    return new RudpSession({
      deviceId: this.o.id,
      encode: (m) => this.encode(m),
      send: (bytes) => this.sendNow(bytes),
      hello: () => this.helloBody(),
      latest,
      waiting: () => this.buffer,
      timing: this.timing,
      ...(this.o.onEvent ? { onEvent: this.o.onEvent } : {}),
      queueLimit: this.o.queueLimit ?? 1000,
    });
  }

  async run(): Promise<DeviceSummary> {
    this.started = performance.now();
    const external = this.o.signal;
    const onAbort = (): void => this.finish();
    external?.addEventListener('abort', onAbort, { once: true });
    if (external?.aborted) this.finish();
    // A transport that cannot even start (e.g. a host name that does not resolve) ends the run:
    // sampling stops, and run() rejects with that error once everything is closed.
    let failure: { error: unknown } | undefined;
    try {
      const session = this.stream ? this.connectLoop() : this.rudp ? this.reliableSession() : this.datagramSession();
      const connections = session.catch((error: unknown) => {
        failure = { error };
        this.finish();
        this.shutdown.abort();
      });
      const sampling = this.sampleLoop();
      await sampling;
      if (this.rudp) {
        // rudp: BYE goes right behind the readings, held and resent like them (after the HELLO,
        // should that still be on its way). The server acknowledges it once it has committed
        // everything before it (the ACK is cumulative, PROTOCOL.md §7.3), so its ACK is the
        // drain: no wait for the last readings' delayed ACK.
        await Promise.race([this.rudp.bye(0), sleep(this.o.drainMs ?? 10_000, this.shutdown.signal)]);
      } else {
        await this.drain();
        await this.sayBye();
      }
      this.shutdown.abort();
      this.link?.close();
      await connections;
    } finally {
      external?.removeEventListener('abort', onAbort);
      this.rudp?.close();
      this.shutdown.abort();
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.link?.close();
    }
    if (failure) throw failure.error;
    // Whatever is still held was never acknowledged (sent or not).
    for (const entry of this.outbox.all()) {
      this.messagesUnacked++;
      this.readingsUnacked += entry.readings;
    }
    if (this.rudp) {
      const left = this.rudp.unacknowledged();
      this.messagesUnacked += left.messages;
      this.readingsUnacked += left.readings;
    }
    return this.summary();
  }

  /** Readings made so far. */
  get generatedSoFar(): number {
    return this.generated;
  }

  /** Readings acknowledged so far. */
  get acknowledgedSoFar(): number {
    return this.rudp ? this.rudp.counters.readingsAcked : this.readingsAcked;
  }

  /** Stops sampling; run() then drains, says BYE and resolves. */
  finish(): void {
    if (this.finishing) return;
    this.finishing = true;
    this.wake?.();
  }

  // ---- sampling -------------------------------------------------------------------------

  private async sampleLoop(): Promise<void> {
    let due = performance.now();
    while (!this.finishing) {
      this.sampleRound();
      if (this.finishing) break;
      due += this.intervalMs;
      const wait = Math.max(0, due - performance.now());
      if (wait === 0) due = performance.now(); // fell behind: do not burst to catch up
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        this.wake = done;
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
      });
      this.wake = undefined;
    }
    this.cutMessages(true);
  }

  private sampleRound(): void {
    const now = Date.now();
    const elapsed = performance.now() - this.started;
    for (const sensor of this.sensors) {
      if (!this.enabled.has(sensor.spec.id)) continue;
      if (this.o.count !== undefined && this.generated >= this.o.count) break;
      this.buffer.push({ sensor: sensor.spec.id, ts: now, value: sensor.sample(elapsed), order: this.generated });
      this.generated++;
    }
    if (this.o.count !== undefined && this.generated >= this.o.count) this.finish();
    this.cutMessages(false);
  }

  /** Turns buffered samples into READINGS messages of `batch` readings (all of them at the end). */
  private cutMessages(all: boolean): void {
    while (this.buffer.length >= this.o.batch || (all && this.buffer.length > 0)) {
      let take = Math.min(this.o.batch, this.buffer.length);
      for (;;) {
        // Numbered when first sent (see outbox.ts); sized here with the longest seq there is.
        const samples = this.buffer.slice(0, take);
        const message = readingsMessage(this.o.id, samples, Limits.MAX_VARINT);
        if (this.tryEncode(message)) {
          this.buffer.splice(0, take);
          if (this.rudp) this.rudp.addReadings(samples);
          else this.outbox.add((seq) => this.encode({ ...message, seq }), take);
          break;
        }
        // Too large for the transport (e.g. a UDP datagram): fewer readings in this message.
        take = Math.max(1, Math.floor(take / 2));
      }
    }
    this.pump();
  }

  private tryEncode(message: Message): Uint8Array | undefined {
    const plain = encode(message, { maxMessageSize: Infinity });
    if (plain.length + (this.o.key ? 8 : 0) > this.maxMessage && message.type === 'READINGS' && message.readings.length > 1) return undefined;
    return this.encode(message);
  }

  private encode(message: Message): Uint8Array {
    return encode(message, { maxMessageSize: this.maxMessage, ...(this.o.key ? { key: this.o.key, session: this.session } : {}) });
  }

  // ---- sending --------------------------------------------------------------------------

  private sendNow(bytes: Uint8Array): boolean {
    const link = this.link;
    if (!link?.open || !link.send(bytes)) return false;
    this.bytesSent += bytes.length + (this.stream ? prefixLength(bytes.length) : 0);
    return true;
  }

  /** Sends what the window allows. */
  private pump(): void {
    if (this.rudp || !this.link?.open || this.helloSeq === 0) return;
    // UDP: datagrams may overtake one another (and reach different server workers), so READINGS
    // wait until the server has acknowledged the HELLO; until then they are held, not lost.
    if (!this.stream && !this.helloAcked) return;
    const window = this.stream ? (this.o.window ?? 64) : Infinity;
    for (const entry of this.outbox.sendable(window)) {
      if (!this.link.open) return;
      // TCP: a message still unacknowledged is sent again after a reconnect, behind a HELLO with
      // a newer seq. A server with keys refuses any seq at or below its highest minus 64
      // (PROTOCOL.md §8), so no new seq is taken more than SEQ_SPAN below which the oldest held
      // one, and the next HELLO, would fall out of that window.
      const lowest = this.outbox.lowestSeq;
      if (entry.bytes === undefined && this.stream && lowest !== undefined && this.nextSeq - lowest >= SEQ_SPAN) return;
      const bytes = entry.bytes ?? this.outbox.number(entry, this.nextSeq++);
      if (!this.sendNow(bytes)) return;
      if (entry.sends > 0) this.retransmissions++;
      else {
        this.messagesSent++;
        this.readingsSent += entry.readings;
      }
      this.outbox.markSent(entry, performance.now(), Date.now());
    }
  }

  private control(message: Omit<MessageOf<'HELLO'>, 'seq'> | Control): number {
    // rudp: numbered and held by the session (it sends HELLO itself).
    if (this.rudp && message.type !== 'HELLO') {
      this.rudp.enqueue(message);
      return 0;
    }
    const seq = this.nextSeq++;
    this.sendNow(this.encode({ ...message, seq } as Message));
    return seq;
  }

  private sendHello(): void {
    this.helloAcked = false;
    const resumeSeq = this.outbox.lowestSeq ?? this.nextSeq;
    this.helloSeq = this.control({ ...this.helloBody(), resumeSeq });
    this.helloSentAt = performance.now();
    this.pump();
  }

  private helloBody(): Omit<MessageOf<'HELLO'>, 'seq' | 'resumeSeq'> {
    return {
      type: 'HELLO',
      deviceId: this.o.id,
      session: this.session,
      intervalMs: this.intervalMs,
      model: this.o.model ?? 'sensorwire-sim',
      firmware: this.o.firmware ?? '1.0.0',
      sensors: this.sensors.map((s) => s.spec),
    };
  }

  // ---- connections ----------------------------------------------------------------------

  /** TCP: connect, say HELLO, resend what is held; on loss, back off and do it again. */
  private async connectLoop(): Promise<void> {
    const { min, max } = this.o.backoffMs ?? { min: 100, max: 5000 };
    let attempt = 0;
    const signal = this.shutdown.signal;
    while (!signal.aborted) {
      let link: Connection;
      try {
        link = await this.o.transport.connect({ host: this.o.host, port: this.o.port, signal }, { frame: (_l, f) => this.onFrame(f) });
      } catch (error) {
        if (signal.aborted) return;
        attempt++;
        const delayMs = Math.round(Math.min(max, min * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
        this.o.onEvent?.({ kind: 'reconnecting', delayMs, attempt, reason: error instanceof Error ? error.message : String(error) });
        await sleep(delayMs, signal);
        continue;
      }
      if (attempt > 0 || this.reconnects > 0 || this.helloSeq > 0) this.reconnects++;
      attempt = 0;
      this.link = link;
      this.outbox.resetInFlight();
      this.o.onEvent?.({ kind: 'connected', remote: link.remote });
      this.sendHello();
      const error = await link.closed;
      this.link = undefined;
      if (signal.aborted) return;
      this.o.onEvent?.({ kind: 'disconnected', reason: error?.message ?? 'closed by the server' });
      attempt++;
      const delayMs = Math.round(min * (0.5 + Math.random() / 2));
      this.o.onEvent?.({ kind: 'reconnecting', delayMs, attempt, reason: 'connection lost' });
      await sleep(delayMs, signal);
    }
  }

  /** UDP: one socket for the whole run; datagrams unacknowledged in time count as lost. */
  private async datagramSession(): Promise<void> {
    const signal = this.shutdown.signal;
    this.link = await this.o.transport.connect({ host: this.o.host, port: this.o.port, signal }, { frame: (_l, f) => this.onFrame(f) });
    this.o.onEvent?.({ kind: 'connected', remote: this.link.remote });
    this.sendHello();
    const timeout = this.o.ackTimeoutMs ?? 2000;
    while (!signal.aborted) {
      await sleep(Math.min(250, timeout / 4), signal);
      const now = performance.now();
      for (const entry of [...this.outbox.olderThan(now, timeout)]) {
        this.outbox.take(entry.seq);
        this.messagesUnacked++;
        this.readingsUnacked += entry.readings;
      }
      // A HELLO lost on the way is sent again; READINGS wait for its ACK (see pump).
      // Nothing else goes until it is acknowledged, so it is retried sooner than a READINGS is
      // given up on.
      if (!this.helloAcked && now - this.helloSentAt > Math.min(timeout, HELLO_RETRY_MS)) this.sendHello();
      this.wakeDrain?.();
    }
  }

  /** rudp: one socket for the whole run; the session retransmits, resynchronises and gives up by itself. */
  private async reliableSession(): Promise<void> {
    const signal = this.shutdown.signal;
    this.link = await this.o.transport.connect({ host: this.o.host, port: this.o.port, signal }, { frame: (_l, f) => this.onFrame(f) });
    this.o.onEvent?.({ kind: 'connected', remote: this.link.remote });
    this.rudp?.start();
    await this.link.closed;
  }

  // ---- replies --------------------------------------------------------------------------

  private onFrame(frame: Frame): void {
    this.bytesReceived += frame.bytes.length + (this.stream ? prefixLength(frame.bytes.length) : 0);
    if (!frame.ok) {
      this.o.onEvent?.({ kind: 'error', code: frame.error.wireCode, name: frame.error.code, refSeq: 0, text: `malformed reply: ${frame.error.message}` });
      return;
    }
    const m = frame.message;
    this.rudp?.heard();
    switch (m.type) {
      case 'ACK':
        if (this.rudp) {
          if (m.config) this.applyConfig(m.config, m.seq);
          this.rudp.onAck(m);
        } else this.onAck(m);
        break;
      case 'CONFIG':
        this.applyConfig(m, m.seq);
        break;
      case 'ERROR':
        this.onError(m);
        break;
      case 'PING':
        this.control({ type: 'PONG', deviceId: this.o.id, pingSeq: m.seq });
        break;
      case 'PONG':
        this.o.onEvent?.({ kind: 'pong', pingSeq: m.pingSeq });
        break;
      default:
        break;
    }
    this.wakeDrain?.();
  }

  private onAck(m: MessageOf<'ACK'>): void {
    if (m.config) this.applyConfig(m.config, m.seq);
    if (m.ackSeq === this.helloSeq) {
      this.helloAcked = true;
      this.o.onEvent?.({ kind: 'ack', ackSeq: m.ackSeq, status: m.status, what: 'HELLO', readings: 0 });
      this.pump();
      return;
    }
    if (m.ackSeq === this.byeSeq && this.byeSeq !== 0) {
      this.o.onEvent?.({ kind: 'ack', ackSeq: m.ackSeq, status: m.status, what: 'BYE', readings: 0 });
      this.byeAcked?.();
      return;
    }
    const entry = this.outbox.take(m.ackSeq);
    if (!entry) return; // an ACK for a message already settled (e.g. a late one over UDP)
    this.messagesAcked++;
    this.readingsAcked += entry.readings;
    if (m.status === 'DUPLICATE') this.duplicates++;
    // Karn: a retransmitted message gives no RTT sample (which send does the ACK answer?).
    const rttMs = entry.sends === 1 ? this.timing.add(entry.sentAt, performance.now(), entry.sentWall, Date.now(), m.rxTime, m.holdUs) : undefined;
    this.o.onEvent?.({ kind: 'ack', ackSeq: m.ackSeq, status: m.status, what: 'READINGS', readings: entry.readings, ...(rttMs !== undefined ? { rttMs } : {}) });
    this.pump();
  }

  private applyConfig(config: ConfigBody, carriedBy: number): void {
    if (config.configId > this.configId) {
      this.configId = config.configId;
      const previousIntervalMs = this.intervalMs;
      if (config.intervalMs > 0) this.intervalMs = config.intervalMs;
      const known = (id: number): boolean => this.names.has(id);
      for (const id of config.enable.filter(known)) this.enabled.add(id);
      for (const id of config.disable.filter(known)) this.enabled.delete(id);
      this.configsApplied++;
      this.o.onEvent?.({
        kind: 'config',
        configId: config.configId,
        intervalMs: this.intervalMs,
        previousIntervalMs,
        enabled: config.enable.filter(known).map((id) => this.names.get(id) ?? String(id)),
        disabled: config.disable.filter(known).map((id) => this.names.get(id) ?? String(id)),
      });
    }
    // Acknowledge the message that carried it, also when it repeats one already applied.
    this.control({ type: 'ACK', deviceId: this.o.id, status: 'OK', ackSeq: carriedBy, rxTime: Date.now(), holdUs: 0 });
  }

  private onError(m: MessageOf<'ERROR'>): void {
    const name: ErrorCodeName | undefined = errorCodeName(m.code);
    this.o.onEvent?.({ kind: 'error', code: m.code, name: name ?? `code ${m.code}`, refSeq: m.refSeq, text: m.text });
    if (this.rudp) {
      this.rudp.onError(m.code, m.refSeq);
      return;
    }
    switch (m.code) {
      case ErrorCode.UNKNOWN_DEVICE: {
        // The server lost us (or the datagram reached a worker that has not seen the HELLO yet):
        // introduce ourselves again, and send the refused READINGS again once the HELLO is
        // acknowledged (PROTOCOL.md §6.3). It was refused, not lost: nothing of it was stored.
        this.outbox.requeue(m.refSeq);
        // One HELLO for a burst of refusals; a HELLO already on its way is retried on timeout.
        if (this.helloAcked) this.sendHello();
        break;
      }
      case ErrorCode.STORAGE: {
        // The server could not commit it and stored nothing: send it again a little later
        // (PROTOCOL.md §11), or the HELLO it could not record.
        this.later(() => {
          if (m.refSeq === this.helloSeq && !this.helloAcked) this.sendHello();
          else if (this.outbox.requeue(m.refSeq)) this.pump();
        });
        break;
      }
      case ErrorCode.UNKNOWN_SENSOR:
      case ErrorCode.REPLAY:
      case ErrorCode.BAD_TAG: {
        const entry = this.outbox.take(m.refSeq);
        if (entry) this.readingsRejected += entry.readings;
        break;
      }
      default:
        break;
    }
  }

  /** Runs `fn` after the shortest reconnect delay, unless the device has finished by then. */
  private later(fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.shutdown.signal.aborted) fn();
    }, this.o.backoffMs?.min ?? 100);
    this.timers.add(timer);
  }

  // ---- the end --------------------------------------------------------------------------

  /** TCP and plain UDP: waits until nothing is held, or the drain time runs out. */
  private async drain(): Promise<void> {
    const deadline = performance.now() + (this.o.drainMs ?? 10_000);
    const held = (): boolean => this.outbox.size > 0;
    while (held() && performance.now() < deadline && !this.shutdown.signal.aborted) {
      this.pump();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, Math.min(100, deadline - performance.now())));
        this.wakeDrain = done;
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
      });
      this.wakeDrain = undefined;
    }
  }

  private async sayBye(): Promise<void> {
    if (!this.link?.open) return;
    const acked = new Promise<void>((resolve) => (this.byeAcked = resolve));
    this.byeSeq = this.control({ type: 'BYE', deviceId: this.o.id, reason: 0 });
    await Promise.race([acked, sleep(1000, this.shutdown.signal)]);
  }

  private summary(): DeviceSummary {
    const r = this.rudp;
    if (r) {
      // The session kept the books: sends, acknowledgements, resends.
      const c = r.counters;
      this.readingsSent = c.readingsSent;
      this.readingsAcked = c.readingsAcked;
      this.readingsRejected = c.readingsRejected;
      this.messagesSent = c.messagesSent;
      this.messagesAcked = c.messagesAcked;
      this.duplicates = c.duplicates;
      this.retransmissions = r.sender.retransmissions;
    }
    return {
      device: this.o.id,
      transport: r ? 'rudp' : this.o.transport.kind,
      session: this.session,
      durationMs: Math.round(performance.now() - this.started),
      readings: {
        generated: this.generated,
        sent: this.readingsSent,
        acknowledged: this.readingsAcked,
        unacknowledged: this.readingsUnacked,
        rejected: this.readingsRejected,
        dropped: this.outbox.droppedReadings + (r?.counters.droppedReadings ?? 0),
        superseded: r?.counters.superseded ?? 0,
      },
      messages: {
        sent: this.messagesSent,
        acknowledged: this.messagesAcked,
        duplicates: this.duplicates,
        retransmissions: this.retransmissions,
        unacknowledged: this.messagesUnacked,
      },
      bytes: { sent: this.bytesSent, received: this.bytesReceived },
      rtt: this.timing.rtt ?? null,
      clockOffsetMs: this.timing.clockOffsetMs ?? null,
      reconnects: this.reconnects,
      configsApplied: this.configsApplied,
      intervalMs: this.intervalMs,
      ...(r ? { rudp: this.rudpSummary(r) } : {}),
    };
  }

  private rudpSummary(r: RudpSession): RudpSummary {
    const c = r.counters;
    const rto = r.sender.rto;
    return {
      epoch: r.epoch ?? null,
      srttMs: rto.srtt ?? null,
      rttvarMs: rto.srtt === undefined ? null : rto.rttvar,
      rtoMs: rto.rto,
      retransmissions: { timeout: c.timeouts, probe: c.probes, fast: c.fastRetransmits, resync: c.resyncResends },
      gaveUp: c.gaveUp,
      resyncs: c.resyncs,
      keepalives: c.keepalives,
      superseded: c.superseded,
      replaced: c.replaced,
    };
  }
}

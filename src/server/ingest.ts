// The ingest logic: takes frames from any transport's links, checks them, stores readings
// through the group committer, and answers with ACK, PONG, CONFIG or ERROR (PROTOCOL.md §6).
// Messages with the RELIABLE flag belong to an rudp session (§7): they pass a per-device
// receiver that commits READINGS in seq order and acknowledges cumulatively.
import {
  AckStatus, ErrorCode, Limits, decodeHeader, encode, verifyTag,
  type ErrorCodeName, type Frame, type Message, type MessageOf, type Reading,
} from '../protocol/index.ts';
import { MAX_PLAIN_ACK, writePlainAck } from '../protocol/ack.ts';
import type { Link, LinkHandler } from '../transport/types.ts';
import { StoreError } from '../store/errors.ts';
import { packReadings } from '../store/packed.ts';
import type { CommitOutcome, PackedReadings, ReadingsBatch, Store, TransportName } from '../store/types.ts';
import type { Logger } from '../log.ts';
import { Committer } from './committer.ts';
import { DeviceRegistry, type DeviceState } from './devices.ts';
import type { ConfigPolicy } from './policy.ts';
import { RudpState, type RudpPeer, type Trigger } from './rudp.ts';
import { emptyStats, type ServerStats } from './stats.ts';

export interface IngestOptions {
  readonly store: Store;
  readonly log: Logger;
  /** Pre-shared keys by device id. When given, every message must carry a valid tag. */
  readonly keys?: ReadonlyMap<number, Uint8Array>;
  readonly policy?: ConfigPolicy;
  /** Other processes write the same store (cluster workers): datagrams re-read device state. */
  readonly sharedStore?: boolean;
  /** Frames a link may have in processing before its reading is paused. Default 256. */
  readonly maxPendingPerLink?: number;
}

/** Per connection: the device it carries and its processing queue. */
interface LinkState {
  deviceId: number | undefined;
  tail: Promise<void>;
  pending: number;
  paused: boolean;
  /** READINGS of this link queued for commit and not answered yet: BYE waits for them. */
  committing: number;
  /** Woken once `committing` is back to 0. */
  settled: (() => void)[] | undefined;
  /** TCP: the server has decided to end the connection; no later frame of it is taken. */
  closing: boolean;
  /** TCP: the final ERROR has been sent and the link closed; frames still queued are dropped. */
  closed: boolean;
}

/** Errors that end a TCP connection after the ERROR is sent (and a first message other than HELLO). */
const CLOSES_CONNECTION = new Set<ErrorCodeName>(['BAD_TAG']);

/** The longest start of `text` that fits in `bytes` bytes of UTF-8 (whole characters only). */
function fitText(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

function newState(deviceId: number | undefined): LinkState {
  return { deviceId, tail: Promise.resolve(), pending: 0, paused: false, committing: 0, settled: undefined, closing: false, closed: false };
}

/**
 * When the frames of one turn of the event loop arrived. The clocks are read once per turn, at its
 * first frame, and shared by its frames (they were all waiting in the kernel by then).
 */
interface Stamp extends Trigger {
  /** performance.now() of the same moment, for holds without BigInt arithmetic. */
  readonly rxMono: number;
}

/** Microseconds since `rxClock`, as an ACK's hold. */
function holdSince(rxClock: bigint): number {
  return Math.min(Number((process.hrtime.bigint() - rxClock) / 1000n), Limits.MAX_VARINT);
}

/** Microseconds since `stamp`, as an ACK's hold. */
function holdSinceStamp(stamp: Stamp): number {
  return Math.min(Math.max(Math.round((performance.now() - stamp.rxMono) * 1000), 0), Limits.MAX_VARINT);
}

/** What an ACK or an ERROR needs of the message it answers. */
type MessageHead = Pick<Message, 'type' | 'deviceId' | 'seq'>;

/**
 * A checked TCP or UDP READINGS on its way to storage, with what its answer needs. It holds its
 * readings packed, not the decoded message (see PackedReadings).
 */
interface PendingReadings extends ReadingsBatch {
  readonly readings: PackedReadings;
  readonly link: Link;
  readonly state: LinkState;
  readonly device: DeviceState;
  /** The readings the policy watches, for it to see once they are stored; undefined if none. */
  readonly watched: readonly Reading[] | undefined;
  readonly stamp: Stamp;
  /** Bytes of the message (a UDP refusal is no larger). */
  readonly size: number;
  readonly transport: 'tcp' | 'udp';
}

/** Every reading's sensor must be in the device's catalogue, with its declared type. */
function checkSensors(device: DeviceState, m: MessageOf<'READINGS'>): void {
  m.readings.forEach((r, i) => {
    const spec = device.sensors.get(r.sensor);
    if (!spec) throw new Refusal('UNKNOWN_SENSOR', `reading ${i}: sensor ${r.sensor} is not in the catalogue`);
    if (spec.type !== r.type) throw new Refusal('UNKNOWN_SENSOR', `reading ${i}: sensor ${r.sensor} is declared ${spec.type}, not ${r.type}`);
  });
}

function headOf(p: PendingReadings): MessageHead {
  return { type: 'READINGS', deviceId: p.deviceId, seq: p.seq };
}

class Refusal {
  constructor(readonly code: ErrorCodeName, readonly text: string, readonly closes = false) {}
}

export class IngestServer {
  readonly stats: ServerStats = emptyStats();
  private readonly store: Store;
  private readonly log: Logger;
  private readonly keys: ReadonlyMap<number, Uint8Array> | undefined;
  private readonly policy: ConfigPolicy | undefined;
  private readonly sharedStore: boolean;
  private readonly maxPending: number;
  private readonly devices: DeviceRegistry;
  private readonly committer: Committer;
  private readonly links = new WeakMap<Link, LinkState>();
  /** Datagram queues per device id, so that one device's datagrams are handled in order. */
  private readonly datagramQueues = new Map<number, LinkState>();
  private readonly rudp = new RudpState();
  private inFlight = 0;
  /** Callers of drain() waiting for inFlight to reach 0. */
  private idle: (() => void)[] = [];
  /** The clock readings of the current turn, until its end. */
  private stamp: Stamp | undefined;
  private readonly endTurn = (): void => {
    this.stamp = undefined;
  };
  /** Where plain ACKs are written; every link copies what it is given. */
  private readonly ackBytes = new Uint8Array(MAX_PLAIN_ACK);

  constructor(options: IngestOptions) {
    this.store = options.store;
    this.log = options.log;
    this.keys = options.keys;
    this.policy = options.policy;
    this.sharedStore = options.sharedStore ?? false;
    this.maxPending = options.maxPendingPerLink ?? 256;
    this.devices = new DeviceRegistry(options.store);
    this.committer = new Committer(options.store);
  }

  /** The handler to give a transport's listener. */
  readonly handler: LinkHandler = {
    open: (link) => {
      this.links.set(link, newState(undefined));
      this.log.debug({ event: 'open', transport: link.kind, remote: link.remote }, 'connection opened');
    },
    frame: (link, frame) => this.onFrame(link, frame),
    close: (link, error) => {
      const state = this.links.get(link);
      this.log.debug({ event: 'close', transport: link.kind, remote: link.remote, device: state?.deviceId, error: error?.message }, 'connection closed');
    },
  };

  /** Resolves when every frame received so far has been handled and answered. */
  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    await this.committer.drain();
  }

  get transactions(): number {
    return this.committer.transactions;
  }

  /** The epoch this server gives its rudp sessions (PROTOCOL.md §7.1). */
  get epoch(): number {
    return this.rudp.epoch;
  }

  /** Devices with an rudp session open here. */
  get rudpSessions(): number {
    return this.rudp.sessions;
  }

  /** Stops the rudp timers; call once the listeners are closed and drain() has resolved. */
  close(): void {
    this.rudp.stop();
  }

  private transportOf(link: Link, message?: Message): TransportName {
    if (link.kind === 'udp') return message?.reliable ? 'rudp' : 'udp';
    return 'tcp';
  }

  private now(): Stamp {
    let stamp = this.stamp;
    if (stamp === undefined) {
      stamp = this.stamp = { rxTime: Date.now(), rxClock: process.hrtime.bigint(), rxMono: performance.now() };
      setImmediate(this.endTurn);
    }
    return stamp;
  }

  private onFrame(link: Link, frame: Frame): void {
    const stamp = this.now();
    const transport = this.transportOf(link, frame.ok ? frame.message : undefined);
    // A connection the server is ending (after an ERROR that closes it) gives nothing more:
    // frames that follow the bad one, even in the same read, are neither handled nor stored.
    if (link.kind !== 'udp' && this.queueFor(link, 0).closing) return;
    this.stats[transport].bytesIn += frame.bytes.length;
    if (transport === 'rudp') this.rudp.received(link.remote, frame.bytes.length);
    if (!frame.ok) {
      if (link.kind === 'udp') {
        this.malformed(link, frame, transport);
        return;
      }
      // TCP: the frames before the bad one are answered first, then ERROR, then the close.
      const state = this.queueFor(link, 0);
      state.closing = true;
      this.enqueue(link, state, 0, async () => {
        state.closed = true;
        this.malformed(link, frame, transport);
      });
      return;
    }
    this.stats[transport].messages++;
    const state = this.queueFor(link, frame.message.deviceId);
    if (state.pending === 0 && this.readingsAtOnce(link, state, frame.message, frame.bytes, transport, stamp)) return;
    this.enqueue(link, state, frame.message.deviceId, () => this.handle(link, state, frame.message, frame.bytes, transport, stamp));
  }

  /**
   * The common case without the queue: a READINGS of a device this process has at hand, on a
   * link with nothing queued (so nothing to keep it behind), that passes every check. Anything
   * else (a refusal to make, a store read, rudp) returns false and takes the queued path, which
   * checks everything again.
   */
  private readingsAtOnce(
    link: Link, state: LinkState, m: Message, bytes: Uint8Array, transport: TransportName, stamp: Stamp,
  ): boolean {
    if (m.type !== 'READINGS' || transport === 'rudp' || state.closed) return false;
    if (link.kind === 'udp' ? this.sharedStore : state.deviceId !== m.deviceId) return false;
    const device = this.devices.cached(m.deviceId);
    if (!device) return false;
    if (this.keys) {
      const key = this.keys.get(m.deviceId);
      if (!key || m.tag === undefined || !verifyTag(key, device.record.session, bytes) || device.window.tooOld(m.seq)) return false;
    }
    for (const r of m.readings) {
      if (device.sensors.get(r.sensor)?.type !== r.type) return false;
    }
    let readings: PackedReadings;
    try {
      readings = packReadings(m.baseTime, m.readings);
    } catch {
      // Decoded readings always pack (decode checks what pack does): a bug, which the queued path
      // meets again and logs.
      return false;
    }
    this.commitReadings(link, state, device, m, readings, transport, stamp, bytes.length);
    return true;
  }

  /** Runs `task` after everything queued before it on this link (or this device's datagrams). */
  private enqueue(link: Link, state: LinkState, deviceId: number, task: () => Promise<void>): void {
    state.pending++;
    this.inFlight++;
    if (state.pending > this.maxPending && !state.paused) {
      state.paused = true;
      link.pause();
    }
    state.tail = state.tail
      .then(task)
      .catch((error: unknown) => this.log.error({ event: 'bug', err: error }, 'unexpected error while handling a message'))
      .finally(() => {
        state.pending--;
        if (state.paused && state.pending <= this.maxPending / 2) {
          state.paused = false;
          link.resume();
        }
        if (link.kind === 'udp' && state.pending === 0) this.datagramQueues.delete(deviceId);
        if (--this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
      });
  }

  private queueFor(link: Link, deviceId: number): LinkState {
    if (link.kind !== 'udp') {
      let state = this.links.get(link);
      if (!state) {
        this.handler.open?.(link);
        state = this.links.get(link)!;
      }
      return state;
    }
    let state = this.datagramQueues.get(deviceId);
    if (!state) {
      state = newState(deviceId);
      this.datagramQueues.set(deviceId, state);
    }
    return state;
  }

  private async handle(
    link: Link, state: LinkState, m: Message, bytes: Uint8Array, transport: TransportName, stamp: Stamp,
  ): Promise<void> {
    const rxTime = stamp.rxTime;
    if (state.closed) return; // queued before the server ended the connection, handled after
    try {
      if (this.keys) {
        // The tag binds the session (§8): a HELLO names its own, anything else is checked against
        // the device's current one, so it cannot be checked before the device has a session.
        if (link.kind !== 'udp' && state.deviceId === undefined && m.type !== 'HELLO') throw new Refusal('UNEXPECTED', 'send HELLO first', true);
        const key = this.keyFor(m);
        const session = m.type === 'HELLO' ? m.session : (await this.devices.get(m.deviceId, link.kind === 'udp' && this.sharedStore))?.record.session;
        if (session === undefined) {
          if (transport === 'rudp') return this.resync(link, m, stamp);
          throw new Refusal('UNKNOWN_DEVICE', `device ${m.deviceId} has no session here: send HELLO`);
        }
        if (!verifyTag(key, session, bytes)) throw new Refusal('BAD_TAG', 'the authentication tag is wrong');
      }
      if (transport === 'rudp') return await this.reliable(link, state, m, bytes.length, stamp);
      if (link.kind !== 'udp') {
        // TCP (§6.3): HELLO first, or UNEXPECTED and the server closes; then one device only
        // (UNEXPECTED, the connection stays open, §6.5).
        if (state.deviceId === undefined && m.type !== 'HELLO') throw new Refusal('UNEXPECTED', 'send HELLO first', true);
        if (state.deviceId !== undefined && state.deviceId !== m.deviceId) {
          throw new Refusal('UNEXPECTED', `this connection carries device ${state.deviceId}, not ${m.deviceId}`);
        }
      }
      switch (m.type) {
        case 'HELLO': {
          const device = await this.hello(link, state, m, transport, rxTime);
          this.ack(link, transport, m, 'OK', stamp, device);
          return;
        }
        case 'READINGS':
          return await this.readings(link, state, m, transport, stamp, bytes.length);
        case 'PING':
          this.send(link, transport, { type: 'PONG', deviceId: m.deviceId, seq: this.devices.nextSeq(m.deviceId), pingSeq: m.seq });
          return;
        case 'BYE':
          // Its READINGS before it are answered first (their outcomes come in queue order).
          if (state.committing > 0) await new Promise<void>((resolve) => (state.settled ??= []).push(resolve));
          this.log.info({ event: 'bye', transport, remote: link.remote, device: m.deviceId, reason: m.reason }, 'device said goodbye');
          this.ack(link, transport, m, 'OK', stamp);
          return;
        case 'ACK':
          return await this.deviceAck(m);
        case 'ERROR':
          this.log.info({ event: 'device-error', transport, remote: link.remote, device: m.deviceId, code: m.code, refSeq: m.seq }, m.text);
          return;
        case 'PONG':
          return;
        case 'CONFIG':
          throw new Refusal('UNEXPECTED', 'CONFIG goes from server to device');
      }
    } catch (error) {
      if (error instanceof StoreError) {
        // Loading or saving the device failed (a HELLO not recorded): nothing was accepted.
        this.log.error({ event: 'storage', err: error, device: m.deviceId, seq: m.seq, type: m.type }, 'storage failed');
        this.refuse(link, transport, m, 'STORAGE', 'the server could not read or record the device; send it again later', bytes.length, state);
        return;
      }
      if (!(error instanceof Refusal)) throw error;
      this.refuse(link, transport, m, error.code, error.text, bytes.length, state, error.closes);
    }
  }

  /** What can be checked before the session is known: the device's key, and that a tag is there. */
  private keyFor(m: Message): Uint8Array {
    const key = this.keys?.get(m.deviceId);
    if (!key) throw new Refusal('BAD_TAG', `device ${m.deviceId} has no key on this server`);
    if (m.tag === undefined) throw new Refusal('BAD_TAG', 'the message has no authentication tag');
    return key;
  }

  /** Records a HELLO (the caller answers it). */
  private async hello(link: Link, state: LinkState, m: MessageOf<'HELLO'>, transport: TransportName, rxTime: number): Promise<DeviceState> {
    const existing = await this.devices.get(m.deviceId, this.sharedStore);
    const sameSession = existing !== undefined && existing.record.session === m.session;
    if (this.keys && existing) {
      if (m.session < existing.record.session) throw new Refusal('REPLAY', `session ${m.session} is older than ${existing.record.session}`);
      if (sameSession && existing.window.seenBefore(m.seq)) throw new Refusal('REPLAY', `seq ${m.seq} was seen before`);
    }
    const device = await this.devices.hello({
      deviceId: m.deviceId,
      session: m.session,
      model: m.model,
      firmware: m.firmware,
      intervalMs: m.intervalMs,
      sensors: m.sensors,
      transport,
      highestSeq: sameSession ? Math.max(existing.window.highest, m.seq) : m.seq,
      configId: existing?.record.configId ?? 0,
      firstSeen: existing?.record.firstSeen ?? rxTime,
      lastSeen: rxTime,
    });
    device.window.accept(m.seq);
    // The connection carries this device from its first accepted HELLO on.
    if (link.kind !== 'udp') state.deviceId = m.deviceId;
    this.log.info(
      { event: 'hello', transport, remote: link.remote, device: m.deviceId, session: m.session, resumeSeq: m.resumeSeq, sensors: m.sensors.length, model: m.model },
      sameSession ? 'device resumed its session' : 'device started a session',
    );
    // A session on another transport ends the device's rudp session, if it had one.
    if (transport !== 'rudp') this.rudp.drop(m.deviceId);
    return device;
  }

  private async readings(
    link: Link, state: LinkState, m: MessageOf<'READINGS'>, transport: TransportName, stamp: Stamp, size: number,
  ): Promise<void> {
    const device = await this.devices.get(m.deviceId, link.kind === 'udp' && this.sharedStore);
    if (!device) throw new Refusal('UNKNOWN_DEVICE', `device ${m.deviceId} has no session here: send HELLO`);
    if (this.keys && device.window.tooOld(m.seq)) {
      throw new Refusal('REPLAY', `seq ${m.seq} is more than 64 below the highest accepted (${device.window.highest})`);
    }
    checkSensors(device, m);
    this.commitReadings(link, state, device, m, packReadings(m.baseTime, m.readings), transport, stamp, size);
  }

  /** Commits a checked READINGS (`readings`: its readings packed) and answers once it is stored. */
  private commitReadings(
    link: Link, state: LinkState, device: DeviceState, m: MessageOf<'READINGS'>, readings: PackedReadings,
    transport: TransportName, stamp: Stamp, size: number,
  ): void {
    if (transport === 'rudp') throw new TypeError('rudp READINGS are committed in seq order (commitInOrder)');
    // Not awaited: the next frame of this link may join the same transaction. Outcomes come in
    // queue order, so the ACKs still leave in the order of the messages. One object per message
    // is both the batch the store commits and what its answer needs; one function answers them all.
    const pending: PendingReadings = {
      deviceId: m.deviceId, session: device.record.session, seq: m.seq, transport, baseTime: m.baseTime,
      receivedAt: stamp.rxTime, readings, link, state, device, watched: this.watched(device, m.readings), stamp, size,
    };
    state.committing++;
    this.committer.enqueue(pending, this.committed);
  }

  private readonly committed = (outcome: CommitOutcome | undefined, error: unknown, p: PendingReadings): void => {
    const { link, transport, device } = p;
    if (outcome === undefined) {
      this.log.error({ event: 'storage', err: error, device: p.deviceId, seq: p.seq }, 'commit failed');
      this.refuse(link, transport, headOf(p), 'STORAGE', 'the readings could not be stored; send them again later', p.size);
    } else {
      device.window.accept(p.seq);
      if (outcome === 'duplicate') this.stats[transport].duplicates++;
      else this.stats[transport].readingsStored += p.readings.count;
      if (p.watched !== undefined) this.applyPolicy(device, p.watched);
      if (device.pending === undefined) this.plainAck(p, outcome === 'duplicate' ? 'DUPLICATE' : 'OK');
      else this.ack(link, transport, headOf(p), outcome === 'duplicate' ? 'DUPLICATE' : 'OK', p.stamp, device);
    }
    const state = p.state;
    if (--state.committing === 0 && state.settled !== undefined) {
      const wake = state.settled;
      state.settled = undefined;
      for (const w of wake) w();
    }
  };

  /** The ACK of a stored READINGS with no CONFIG to carry: written without a message object. */
  private plainAck(p: PendingReadings, status: 'OK' | 'DUPLICATE'): void {
    const out = this.ackBytes;
    const n = writePlainAck(out, 0, p.deviceId, this.devices.nextSeq(p.deviceId), status, p.seq, p.receivedAt, holdSinceStamp(p.stamp));
    if (p.link.send(out.subarray(0, n))) this.stats[p.transport].bytesOut += n;
  }

  // ---- rudp (PROTOCOL.md §7) --------------------------------------------------------------

  /** A message with the RELIABLE flag. Runs in the device's datagram queue, so in arrival order. */
  private async reliable(link: Link, state: LinkState, m: Message, size: number, trigger: Trigger): Promise<void> {
    // Cluster workers share the UDP socket, and an rudp session's state lives in one process's
    // memory: datagrams of one session would reach several workers, each with its own epoch.
    if (this.sharedStore) throw new Refusal('UNEXPECTED', 'rudp needs a server of one process (--workers 1)');
    if (m.type === 'HELLO') return this.reliableHello(link, state, m, trigger);
    const peer = this.rudp.get(m.deviceId);
    if (!peer) {
      // No rudp state for this device: the BYE of the session that just ended, sent again since
      // its ACK was lost, gets that ACK again; anything else (a restart, a session long ended,
      // never a HELLO) is asked to resynchronise (§7.8).
      const ended = this.rudp.ended(m.deviceId);
      if (ended && m.type === 'BYE' && m.seq === ended.byeSeq) this.ackEnded(link, m, ended.byeSeq, trigger);
      else this.resync(link, m, trigger);
      return;
    }
    peer.link = link;
    const receiver = peer.receiver;
    const arrival = receiver.arrive(m.seq, m.type === 'READINGS' ? { m, rxTime: trigger.rxTime } : undefined);
    if (arrival.kind === 'outside') return; // dropped unread (§7.2): the device sends it again
    peer.trigger = trigger;
    if (arrival.kind === 'duplicate') {
      this.stats.rudp.duplicates++;
      peer.urgent = true;
      peer.status = 'DUPLICATE';
      this.flushRudp(peer);
      return;
    }
    peer.status = 'OK';
    if (!arrival.inOrder) peer.urgent = true; // a gap opened or filled: the device should know now
    try {
      switch (m.type) {
        case 'READINGS':
          checkSensors(peer.device, m);
          break; // committed in seq order below
        case 'PING':
          this.send(link, 'rudp', { type: 'PONG', deviceId: m.deviceId, seq: this.devices.nextSeq(m.deviceId), pingSeq: m.seq, reliable: true });
          peer.urgent = true;
          receiver.handled(m.seq);
          break;
        case 'BYE':
          this.log.info({ event: 'bye', transport: 'rudp', remote: link.remote, device: m.deviceId, reason: m.reason }, 'device said goodbye');
          peer.byeSeq = m.seq;
          peer.urgent = true;
          receiver.handled(m.seq);
          break;
        case 'ACK':
          await this.deviceAck(m);
          receiver.handled(m.seq);
          break;
        case 'ERROR':
          this.log.info({ event: 'device-error', transport: 'rudp', remote: link.remote, device: m.deviceId, code: m.code, refSeq: m.seq }, m.text);
          receiver.handled(m.seq);
          break;
        case 'PONG':
          receiver.handled(m.seq);
          break;
        case 'CONFIG':
          throw new Refusal('UNEXPECTED', 'CONFIG goes from server to device');
      }
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      // Refused for good (the device drops it on the ERROR): the point passes over it.
      this.refuse(link, 'rudp', m, error.code, error.text, size, state);
      receiver.handled(m.seq);
      peer.urgent = true;
    }
    this.commitInOrder(peer);
    this.flushRudp(peer);
  }

  private async reliableHello(link: Link, state: LinkState, m: MessageOf<'HELLO'>, trigger: Trigger): Promise<void> {
    let peer = this.rudp.get(m.deviceId);
    if (peer && peer.session === m.session && (m.seq <= peer.receiver.cumulative || peer.receiver.holds(m.seq))) {
      // The same HELLO again: the device had not seen the point pass it.
      peer.link = link;
      this.stats.rudp.duplicates++;
      peer.trigger = trigger;
      peer.urgent = true;
      peer.status = 'DUPLICATE';
      this.flushRudp(peer);
      return;
    }
    const device = await this.hello(link, state, m, 'rudp', trigger.rxTime);
    this.rudp.validate(link.remote);
    if (!peer || peer.session !== m.session) {
      peer = this.rudp.open(m.deviceId, m.session, m.resumeSeq, link, device);
    } else {
      peer.link = link;
      peer.device = device;
      peer.receiver.resume(m.resumeSeq);
    }
    // The HELLO takes its seq like any message (§7.2); one beyond the window is sent again later.
    if (peer.receiver.arrive(m.seq).kind === 'accepted') peer.receiver.handled(m.seq);
    peer.trigger = trigger;
    peer.urgent = true;
    peer.status = 'OK';
    this.commitInOrder(peer);
    this.flushRudp(peer);
  }

  /** Commits, in seq order, the READINGS the point has reached (§7.2). */
  private commitInOrder(peer: RudpPeer): void {
    for (const { seq, item } of peer.receiver.deliverable()) {
      if (!item || peer.committing.has(seq)) continue;
      peer.committing.add(seq);
      const { m, rxTime } = item;
      const committed = this.committer.commit({
        deviceId: m.deviceId, session: peer.session, seq, transport: 'rudp', baseTime: m.baseTime, receivedAt: rxTime, readings: m.readings,
      });
      void committed.then(
        (outcome) => {
          peer.committing.delete(seq);
          const device = peer.device;
          device.window.accept(seq);
          if (outcome === 'duplicate') {
            // Stored before (e.g. by this server before a restart): acknowledged, not stored again.
            this.stats.rudp.duplicates++;
            peer.status = 'DUPLICATE';
            peer.urgent = true;
          } else this.stats.rudp.readingsStored += m.readings.length;
          const watched = this.watched(device, m.readings);
          if (watched !== undefined) this.applyPolicy(device, watched);
          peer.receiver.handled(seq);
          this.flushRudp(peer);
        },
        (error: unknown) => {
          peer.committing.delete(seq);
          peer.receiver.forget(seq); // not stored: its retransmission is taken as new
          this.log.error({ event: 'storage', err: error, device: m.deviceId, seq }, 'commit failed');
          this.refuse(peer.link, 'rudp', m, 'STORAGE', 'the readings could not be stored; they will be taken again', m.readings.length + 16);
          this.flushRudp(peer);
        },
      );
    }
  }

  /**
   * Sends the ACK the rules of §7.3 call for now, or arms the delayed one. While commits are
   * under way it waits for them: their ACK covers more, and an ACK never covers what is not
   * committed.
   */
  private flushRudp(peer: RudpPeer): void {
    if (this.rudp.get(peer.deviceId) !== peer) return; // the session ended or was replaced
    if (peer.committing.size > 0) return;
    const receiver = peer.receiver;
    if (peer.byeSeq !== 0 && receiver.cumulative >= peer.byeSeq) {
      // Everything up to the BYE is handled: acknowledge it and forget the session (§7.8).
      this.sendRudpAck(peer);
      this.rudp.end(peer);
      return;
    }
    if (peer.urgent || receiver.ackDue()) this.sendRudpAck(peer);
    else if (receiver.pendingAcks > 0) peer.delay(() => this.flushDelayed(peer));
  }

  private flushDelayed(peer: RudpPeer): void {
    if (this.rudp.get(peer.deviceId) !== peer || peer.committing.size > 0) return;
    if (peer.receiver.pendingAcks > 0 || peer.urgent) this.sendRudpAck(peer);
  }

  private sendRudpAck(peer: RudpPeer): void {
    const receiver = peer.receiver;
    const trigger = peer.trigger ?? { rxTime: Date.now(), rxClock: process.hrtime.bigint() };
    const device = peer.device;
    const seq = this.devices.nextSeq(peer.deviceId);
    const config = device?.pending?.body;
    if (config) device.pending?.carriedBy.add(seq);
    this.send(peer.link, 'rudp', {
      type: 'ACK',
      deviceId: peer.deviceId,
      seq,
      status: peer.status,
      ackSeq: receiver.cumulative,
      rxTime: trigger.rxTime,
      holdUs: holdSince(trigger.rxClock),
      rudp: { epoch: this.rudp.epoch, window: receiver.window, sack: receiver.ranges() },
      ...(config ? { config } : {}),
    });
    peer.acknowledged();
  }

  /** The ACK of a BYE again, for that BYE sent again after its session ended (§7.8). */
  private ackEnded(link: Link, m: Message, byeSeq: number, trigger: Trigger): void {
    this.stats.rudp.duplicates++;
    this.sessionlessAck(link, m, 'DUPLICATE', byeSeq, trigger);
  }

  /** No rudp state for the device: ask it to resynchronise, and take nothing of the message (§7.8). */
  private resync(link: Link, m: Message, trigger: Trigger): void {
    this.sessionlessAck(link, m, 'RESYNC', 0, trigger);
  }

  /** An rudp ACK that no live session stands behind: window 0, no ranges. */
  private sessionlessAck(link: Link, m: Message, status: 'DUPLICATE' | 'RESYNC', ackSeq: number, trigger: Trigger): void {
    this.send(link, 'rudp', {
      type: 'ACK',
      deviceId: m.deviceId,
      seq: this.devices.nextSeq(m.deviceId),
      status,
      ackSeq,
      rxTime: trigger.rxTime,
      holdUs: holdSince(trigger.rxClock),
      rudp: { epoch: this.rudp.epoch, window: 0, sack: [] },
    });
  }

  // ---- configuration -----------------------------------------------------------------------

  /** The readings of sensors the policy watches, or undefined when there is none (or no policy). */
  private watched(device: DeviceState, readings: readonly Reading[]): Reading[] | undefined {
    const policy = this.policy;
    if (policy === undefined) return undefined;
    let watched: Reading[] | undefined;
    for (const r of readings) {
      const spec = device.sensors.get(r.sensor);
      if (spec !== undefined && policy.watches(spec)) (watched ??= []).push(r);
    }
    return watched;
  }

  /** `readings`: stored readings of the device, of sensors the policy watches. */
  private applyPolicy(device: DeviceState, readings: readonly Reading[]): void {
    if (!this.policy || device.pending) return;
    const change = this.policy.evaluate(device, readings);
    if (!change) return;
    const configId = device.record.configId + 1;
    device.record = { ...device.record, configId };
    device.pending = { body: { configId, ...change }, carriedBy: new Set() };
    void this.store.noteConfig(device.record.deviceId, configId).catch((error: unknown) =>
      this.log.error({ event: 'storage', err: error }, 'could not record the configuration'),
    );
    this.log.info({ event: 'config', device: device.record.deviceId, configId, ...change }, 'configuration issued');
  }

  private async deviceAck(m: MessageOf<'ACK'>): Promise<void> {
    const device = await this.devices.get(m.deviceId);
    const pending = device?.pending;
    if (!device || !pending || !pending.carriedBy.has(m.ackSeq)) return;
    device.pending = undefined;
    if (pending.body.intervalMs > 0) device.intervalMs = pending.body.intervalMs;
    for (const id of pending.body.enable) device.disabled.delete(id);
    for (const id of pending.body.disable) device.disabled.add(id);
    this.log.info({ event: 'config-applied', device: m.deviceId, configId: pending.body.configId }, 'device acknowledged its configuration');
  }

  private ack(
    link: Link, transport: TransportName, m: MessageHead, status: keyof typeof AckStatus, stamp: Stamp, device?: DeviceState,
  ): void {
    const seq = this.devices.nextSeq(m.deviceId);
    const config = device?.pending?.body;
    if (config) device.pending?.carriedBy.add(seq);
    this.send(link, transport, {
      type: 'ACK', deviceId: m.deviceId, seq, status, ackSeq: m.seq, rxTime: stamp.rxTime, holdUs: holdSinceStamp(stamp), ...(config ? { config } : {}),
    });
  }

  private send(link: Link, transport: TransportName, message: Message): void {
    const bytes = encode(message);
    // rudp: an address that has not said HELLO gets at most 3× what it sent (§7.1).
    if (transport === 'rudp' && !this.rudp.allow(link.remote, bytes.length)) {
      this.stats.rudp.unanswered++;
      return;
    }
    if (link.send(bytes)) this.stats[transport].bytesOut += bytes.length;
  }

  /** `size`: bytes of the refused message (a UDP answer is no larger, §6.5). */
  private refuse(
    link: Link, transport: TransportName, m: MessageHead, code: ErrorCodeName, text: string, size: number, state?: LinkState, closes = false,
  ): void {
    this.stats[transport].refused++;
    this.log.warn({ event: 'refused', code, transport, remote: link.remote, device: m.deviceId, seq: m.seq, type: m.type }, text);
    const error = (t: string): Message => ({ type: 'ERROR', deviceId: m.deviceId, seq: 0, code: ErrorCode[code], refSeq: m.seq, text: t });
    if (link.kind === 'udp') {
      // No amplification, as for malformed datagrams: the source address of a datagram may be
      // forged, so the ERROR is no larger than what it answers (its text goes first).
      const bare = encode(error('')).length; // with seq 0; the real seq adds at most 4 bytes
      const room = size - bare - (Limits.MAX_VARINT_BYTES - 1);
      if (room < 0) {
        this.stats[transport].unanswered++;
        return;
      }
      text = fitText(text, Math.min(room, 127));
    }
    this.send(link, transport, { ...error(text), seq: this.devices.nextSeq(m.deviceId) });
    if (link.kind !== 'udp' && (closes || CLOSES_CONNECTION.has(code))) {
      if (state) {
        state.closing = true;
        state.closed = true;
      }
      link.close();
    }
  }

  private malformed(link: Link, frame: Extract<Frame, { ok: false }>, transport: TransportName): void {
    const stats = this.stats[transport];
    stats.malformed++;
    const { error, bytes } = frame;
    let deviceId = 0;
    let refSeq = 0;
    try {
      const header = decodeHeader(bytes, { maxMessageSize: Infinity });
      deviceId = header.deviceId;
      refSeq = header.seq;
    } catch {
      // The header itself is bad: the ERROR names no device.
    }
    this.log.warn(
      { event: 'malformed', code: error.code, offset: error.offset, transport, remote: link.remote, device: deviceId || undefined, bytes: bytes.length },
      error.message,
    );
    const reply = (text: string): Uint8Array =>
      encode({ type: 'ERROR', deviceId, seq: this.devices.nextSeq(deviceId), code: error.wireCode, refSeq, text });
    if (link.kind !== 'udp') {
      const out = reply(error.message.slice(0, 200));
      if (link.send(out)) stats.bytesOut += out.length;
      link.close();
      return;
    }
    // No amplification: a datagram is answered only by an ERROR no larger than itself.
    let out = reply(error.message.slice(0, 200));
    if (out.length > bytes.length) out = reply('');
    if (out.length > bytes.length) {
      stats.unanswered++;
      return;
    }
    if (link.send(out)) stats.bytesOut += out.length;
  }
}

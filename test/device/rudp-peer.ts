// A scripted rudp server for the device tests: a UDP listener (src/transport/udp.ts) and an
// RudpReceiver per device that acknowledges as PROTOCOL.md §7.3 says — at once for a gap, a
// duplicate, HELLO, PING and BYE, else every second in-order message or after 10 ms — and
// "stores" the readings of each READINGS in seq order, once per seq. The test chooses which
// datagrams are lost each way, can make the peer forget its sessions (RESYNC) or take a new
// epoch, and can hold the window at a value of its own.
import type { TestContext } from 'node:test';
import { Limits, encode, type ConfigBody, type Message, type MessageOf, type Reading } from '../../src/protocol/index.ts';
import { RudpReceiver, ACK_DELAY_MS } from '../../src/transport/rudp/index.ts';
import { listenUdp, type Link, type Listener } from '../../src/transport/index.ts';

export interface Arrival {
  readonly message: Message;
  readonly bytes: Uint8Array;
  /** 1 for the first arrival of this seq from this device, 2 for the second, … */
  readonly copy: number;
  /** Dropped by the script: the peer never saw it. */
  readonly dropped: boolean;
  readonly at: number;
  /** ACKs the peer had sent when this arrived. */
  readonly acksBefore: number;
}

export interface StoredReading {
  readonly seq: number;
  readonly index: number;
  readonly reading: Reading;
  readonly time: number;
}

export interface PeerScript {
  /** Lose this arriving datagram (device → server). */
  readonly dropIn?: (m: Message, copy: number) => boolean;
  /** Lose this ACK or PONG on its way back (server → device). */
  readonly dropOut?: (m: Message) => boolean;
  /** The window to advertise instead of the receiver's. */
  readonly window?: () => number | undefined;
  /** A CONFIG to carry on this ACK. */
  readonly config?: (ack: MessageOf<'ACK'>) => ConfigBody | undefined;
}

interface Session {
  readonly receiver: RudpReceiver<Message>;
  link: Link;
  seq: number;
  timer: NodeJS.Timeout | undefined;
  /** The message the next delayed ACK answers, and when it arrived. */
  trigger: { rxTime: number; at: number } | undefined;
}

export class ScriptedPeer {
  readonly arrivals: Arrival[] = [];
  readonly stored: StoredReading[] = [];
  /** Every ACK the peer sent (lost or not). */
  readonly acks: MessageOf<'ACK'>[] = [];
  epoch = 0x5eed0001;
  duplicates = 0;
  private readonly sessions = new Map<number, Session>();
  private readonly storedSeqs = new Set<number>();
  private readonly copies = new Map<number, number>();
  private readonly script: PeerScript;
  private listener: Listener | undefined;
  private waiters: (() => void)[] = [];

  private constructor(script: PeerScript) {
    this.script = script;
  }

  static async start(t: TestContext, script: PeerScript = {}): Promise<ScriptedPeer> {
    const peer = new ScriptedPeer(script);
    peer.listener = await listenUdp({ host: '127.0.0.1', port: 0 }, { frame: (link, f) => f.ok && peer.arrive(link, f.message, f.bytes) });
    t.after(() => peer.close());
    return peer;
  }

  get port(): number {
    return this.listener!.port;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) clearTimeout(s.timer);
    this.sessions.clear();
    await this.listener?.close();
  }

  /** Loses every session's state: the next message that is not a HELLO is answered RESYNC. */
  forget(): void {
    for (const s of this.sessions.values()) clearTimeout(s.timer);
    this.sessions.clear();
  }

  /** A restart: the state is gone and the epoch is new. What was stored stays stored. */
  restart(): void {
    this.forget();
    this.epoch = (this.epoch + 0x1111) >>> 0;
  }

  /** Arrivals the script let through, of this type. */
  seen(type?: Message['type']): Arrival[] {
    return this.arrivals.filter((a) => !a.dropped && (type === undefined || a.message.type === type));
  }

  /** Resolves when `check` holds after some arrival, or rejects after `ms`. */
  async until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private arrive(link: Link, m: Message, bytes: Uint8Array): void {
    const copy = (this.copies.get(m.seq) ?? 0) + 1;
    this.copies.set(m.seq, copy);
    const dropped = this.script.dropIn?.(m, copy) ?? false;
    this.arrivals.push({ message: m, bytes: bytes.slice(), copy, dropped, at: performance.now(), acksBefore: this.acks.length });
    for (const w of this.waiters.splice(0)) w();
    if (!dropped) this.handle(link, m);
  }

  private handle(link: Link, m: Message): void {
    const rxTime = Date.now();
    const at = performance.now();
    let s = this.sessions.get(m.deviceId);
    if (m.type === 'HELLO') {
      if (!s) {
        s = { receiver: new RudpReceiver<Message>(m.resumeSeq), link, seq: 1, timer: undefined, trigger: undefined };
        this.sessions.set(m.deviceId, s);
      } else s.receiver.resume(m.resumeSeq);
    }
    if (!s) {
      this.send(link, m.deviceId, 1, { status: 'RESYNC', ackSeq: 0, rxTime, holdUs: 0, rudp: { epoch: this.epoch, window: 64, sack: [] } });
      return;
    }
    s.link = link;
    const a = s.receiver.arrive(m.seq, m);
    if (a.kind === 'outside') return;
    if (a.kind === 'duplicate') {
      this.duplicates++;
      this.ack(s, m.deviceId, 'DUPLICATE', { rxTime, at });
      return;
    }
    // Control messages are handled as they arrive; READINGS are stored in seq order.
    if (m.type !== 'READINGS') s.receiver.handled(m.seq);
    if (m.type === 'PING') this.send(link, m.deviceId, s.seq++, { type: 'PONG', pingSeq: m.seq });
    for (const { seq, item } of s.receiver.deliverable()) {
      if (item?.type !== 'READINGS') continue;
      if (!this.storedSeqs.has(seq)) {
        this.storedSeqs.add(seq);
        item.readings.forEach((reading, index) => this.stored.push({ seq, index, reading, time: item.baseTime + reading.delta }));
      }
      s.receiver.handled(seq);
    }
    const now = !a.inOrder || m.type === 'HELLO' || m.type === 'PING' || m.type === 'BYE' || s.receiver.ackDue();
    s.trigger ??= { rxTime, at };
    if (now) this.ack(s, m.deviceId, 'OK', { rxTime, at });
    else s.timer ??= setTimeout(() => this.ack(s, m.deviceId, 'OK', s.trigger!), ACK_DELAY_MS);
  }

  private ack(s: Session, deviceId: number, status: 'OK' | 'DUPLICATE', trigger: { rxTime: number; at: number }): void {
    clearTimeout(s.timer);
    s.timer = undefined;
    s.trigger = undefined;
    s.receiver.acked();
    const holdUs = Math.max(0, Math.round((performance.now() - trigger.at) * 1000));
    const body = {
      status, ackSeq: s.receiver.cumulative, rxTime: trigger.rxTime, holdUs,
      rudp: { epoch: this.epoch, window: this.script.window?.() ?? s.receiver.window, sack: s.receiver.ranges() },
    } as const;
    const draft: MessageOf<'ACK'> = { type: 'ACK', deviceId, seq: s.seq, ...body };
    const config = this.script.config?.(draft);
    this.send(s.link, deviceId, s.seq++, { ...body, ...(config ? { config } : {}) });
  }

  private send(link: Link, deviceId: number, seq: number, body: Omit<MessageOf<'ACK'>, 'type' | 'deviceId' | 'seq'> | Omit<MessageOf<'PONG'>, 'deviceId' | 'seq'>): void {
    const m = ('type' in body ? { ...body, deviceId, seq } : { type: 'ACK', ...body, deviceId, seq }) as Message;
    if (m.type === 'ACK') this.acks.push(m);
    if (this.script.dropOut?.(m)) return;
    link.send(encode(m, { maxMessageSize: Limits.MAX_UDP_MESSAGE }));
  }
}

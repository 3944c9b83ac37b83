// What the server keeps for rudp (PROTOCOL.md §7): its epoch, one receiver per device session,
// the delayed-acknowledgement timer of each, and the amplification budget of source addresses it
// has not validated yet. The ingest server (ingest.ts) decides what to do with each message; this
// file only holds the state and its bounds.
import { randomInt } from 'node:crypto';
import type { MessageOf } from '../protocol/index.ts';
import { ACK_DELAY_MS, RudpReceiver } from '../transport/rudp/receiver.ts';
import type { Link } from '../transport/types.ts';
import type { DeviceState } from './devices.ts';

/** A reply to an unvalidated address may bring what it was sent to at most this factor (§7.1). */
export const AMPLIFICATION_FACTOR = 3;
/** Addresses tracked at most, validated or not; the oldest are forgotten first. */
const MAX_ADDRESSES = 65_536;
/**
 * How long a session that ended with BYE is remembered (§7.8): as long as a device goes on sending
 * its BYE without hearing back before it gives up (§7.9), so a BYE whose ACK was lost is answered
 * again instead of being asked to resynchronise.
 */
export const ENDED_LINGER_MS = 30_000;

/** Sessions ended with BYE remembered at most; the oldest are forgotten first. */
const MAX_ENDED = 65_536;

/** A session that ended with BYE, remembered for ENDED_LINGER_MS. */
export interface EndedSession {
  readonly byeSeq: number;
  /** performance.now() at which it is forgotten (a monotonic clock: no wall-clock steps). */
  readonly until: number;
}

/** The message that triggered an acknowledgement: its ACK reports when it arrived (§7.3). */
export interface Trigger {
  readonly rxTime: number;
  readonly rxClock: bigint;
}

/** One device's rudp session on this server. */
export class RudpPeer {
  readonly receiver: RudpReceiver<{ readonly m: MessageOf<'READINGS'>; readonly rxTime: number }>;
  /** Seqs of READINGS whose commit is under way. */
  readonly committing = new Set<number>();
  /** Where to send the next ACK: the source of the device's latest datagram. */
  link: Link;
  /** The latest message not yet acknowledged, for the ACK's receive time and hold. */
  trigger: Trigger | undefined;
  /** An ACK is owed at once, as soon as the commits under way allow. */
  urgent = false;
  /** Status of the next ACK: DUPLICATE when a duplicate triggered it. */
  status: 'OK' | 'DUPLICATE' = 'OK';
  /** The seq of the device's BYE: once the point passes it, the session's state is dropped. */
  byeSeq = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly deviceId: number,
    readonly session: number,
    resumeSeq: number,
    link: Link,
    /** The device's state from its latest HELLO (catalogue, pending CONFIG, replay window). */
    public device: DeviceState,
  ) {
    this.receiver = new RudpReceiver(resumeSeq);
    this.link = link;
  }

  /** Arms the delayed acknowledgement (10 ms) unless it is armed already. */
  delay(fire: () => void): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fire();
    }, ACK_DELAY_MS);
  }

  /** An ACK went out: no delayed one is owed any more. */
  acknowledged(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.trigger = undefined;
    this.urgent = false;
    this.status = 'OK';
    this.receiver.acked();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

interface Budget {
  received: number;
  sent: number;
  validated: boolean;
}

export class RudpState {
  /** Picked at random when the server starts (§7.1); a restart picks another. */
  readonly epoch = randomInt(1, 2 ** 32 - 1);
  private readonly peers = new Map<number, RudpPeer>();
  /** In the order they ended, so the oldest, first to expire, come first. */
  private readonly endedSessions = new Map<number, EndedSession>();
  private readonly budgets = new Map<string, Budget>();

  get(deviceId: number): RudpPeer | undefined {
    return this.peers.get(deviceId);
  }

  /** Starts (or restarts) a device's session, dropping any earlier one. */
  open(deviceId: number, session: number, resumeSeq: number, link: Link, device: DeviceState): RudpPeer {
    this.drop(deviceId);
    const peer = new RudpPeer(deviceId, session, resumeSeq, link, device);
    this.peers.set(deviceId, peer);
    return peer;
  }

  /** Drops a device's session, and the memory of one that ended (a session on another transport). */
  drop(deviceId: number): void {
    this.peers.get(deviceId)?.stop();
    this.peers.delete(deviceId);
    this.endedSessions.delete(deviceId);
  }

  /** The device's BYE is acknowledged: its state goes, the BYE's seq is remembered. */
  end(peer: RudpPeer, now = performance.now()): void {
    this.drop(peer.deviceId);
    for (const [deviceId, ended] of this.endedSessions) {
      if (ended.until > now && this.endedSessions.size < MAX_ENDED) break;
      this.endedSessions.delete(deviceId);
    }
    this.endedSessions.set(peer.deviceId, { byeSeq: peer.byeSeq, until: now + ENDED_LINGER_MS });
  }

  /** The device's session that ended with BYE less than ENDED_LINGER_MS ago, if any. */
  ended(deviceId: number, now = performance.now()): EndedSession | undefined {
    const ended = this.endedSessions.get(deviceId);
    if (ended && ended.until <= now) {
      this.endedSessions.delete(deviceId);
      return undefined;
    }
    return ended;
  }

  get sessions(): number {
    return this.peers.size;
  }

  /** Counts bytes received from an address. */
  received(remote: string, bytes: number): void {
    const budget = this.budget(remote);
    if (!budget.validated) budget.received += bytes;
  }

  /** The address sent a HELLO the server accepted: replies to it are no longer limited. */
  validate(remote: string): void {
    this.budget(remote).validated = true;
  }

  /** Whether `bytes` more may be sent to the address now; counts them if so. */
  allow(remote: string, bytes: number): boolean {
    const budget = this.budget(remote);
    if (budget.validated) return true;
    if (budget.sent + bytes > AMPLIFICATION_FACTOR * budget.received) return false;
    budget.sent += bytes;
    return true;
  }

  /** Clears every timer (the server is closing). */
  stop(): void {
    for (const peer of this.peers.values()) peer.stop();
  }

  private budget(remote: string): Budget {
    let budget = this.budgets.get(remote);
    if (!budget) {
      if (this.budgets.size >= MAX_ADDRESSES) {
        const oldest = this.budgets.keys().next().value;
        if (oldest !== undefined) this.budgets.delete(oldest);
      }
      budget = { received: 0, sent: 0, validated: false };
      this.budgets.set(remote, budget);
    }
    return budget;
  }
}

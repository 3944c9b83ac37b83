// What a simulated device reports while it runs, and the samples it takes: shared by the device
// loop and its rudp session.
import type { Value } from '../protocol/index.ts';

/** One sample of one sensor, before it is put into a READINGS message. */
export interface Sample {
  readonly sensor: number;
  readonly ts: number;
  readonly value: Value;
  /** Order taken, across all sensors: which of two samples is newer, also within one ms. */
  readonly order: number;
}

export type DeviceEvent =
  | { readonly kind: 'connected'; readonly remote: string }
  | { readonly kind: 'disconnected'; readonly reason: string }
  | { readonly kind: 'reconnecting'; readonly delayMs: number; readonly attempt: number; readonly reason: string }
  | { readonly kind: 'ack'; readonly ackSeq: number; readonly status: string; readonly what: 'HELLO' | 'READINGS' | 'BYE' | 'other'; readonly readings: number; readonly rttMs?: number }
  | { readonly kind: 'config'; readonly configId: number; readonly intervalMs: number; readonly previousIntervalMs: number; readonly enabled: readonly string[]; readonly disabled: readonly string[] }
  | { readonly kind: 'error'; readonly code: number; readonly name: string; readonly refSeq: number; readonly text: string }
  | { readonly kind: 'pong'; readonly pingSeq: number }
  /**
   * rudp: a message sent again — by the RTO (`timeout`), as a probe (`probe`: the tail loss probe,
   * or the RTO when the window is 0), by fast retransmit (`fast`: RACK found it lost), or after a
   * resynchronisation (`resync`). `cumulative` is the peer's cumulative ack as
   * the device knew it at that moment; `superseded` counts the `latest` readings dropped from it
   * and `replaced` those that a newer waiting sample took the place of (PROTOCOL.md §7.7).
   */
  | { readonly kind: 'retransmit'; readonly seq: number; readonly reason: 'timeout' | 'probe' | 'fast' | 'resync'; readonly cumulative: number; readonly readings: number; readonly superseded: number; readonly replaced: number }
  /** rudp: the server lost the session (RESYNC) or restarted (a new epoch): HELLO and resend. */
  | { readonly kind: 'resync'; readonly reason: 'RESYNC' | 'epoch'; readonly epoch: number; readonly resumeSeq: number; readonly held: number }
  /** rudp: GAVE_UP (40): a message went unacknowledged too often or the server fell silent; the device keeps what it holds and says HELLO again. */
  | { readonly kind: 'gave-up'; readonly code: number; readonly reason: 'retransmissions' | 'silence'; readonly seq: number; readonly held: number };

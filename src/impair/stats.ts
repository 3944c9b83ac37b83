// The relay's counters, per direction and for the relay as a whole, and how they are printed.
import type { Direction } from './decisions.ts';

/**
 * Counters for one direction. Every datagram received ends up in exactly one of: dropped,
 * overflow, discarded, passed (forwarded − duplicated), or still queued. So
 * received = dropped + overflow + discarded + forwarded − duplicated + queued.
 */
export interface DirectionStats {
  /** Datagrams that arrived at the relay. */
  received: number;
  /** Datagrams sent on, each copy of a duplicate counted. */
  forwarded: number;
  /** Dropped by the loss setting. */
  dropped: number;
  /** Sent twice (the extra copies). */
  duplicated: number;
  /** Held back and then sent after a later datagram. */
  reordered: number;
  /** Given a delay above zero. */
  delayed: number;
  /** Dropped because the relay already held as many datagrams as it may (maxQueued). */
  overflow: number;
  /** Thrown away while queued, when their client was evicted or the relay closed. */
  discarded: number;
  /** Waiting in the relay now (delayed or held back). */
  queued: number;
  bytesReceived: number;
  bytesForwarded: number;
}

export interface ClientStats {
  /** Clients with an upstream socket now. */
  active: number;
  /** Clients seen since the start. */
  seen: number;
  /** Forgotten after being idle for the idle timeout. */
  expired: number;
  /** Forgotten to make room for a new client (maxClients). */
  evicted: number;
}

export interface RelayStats {
  /** Client → server. */
  readonly up: DirectionStats;
  /** Server → client. */
  readonly down: DirectionStats;
  readonly clients: ClientStats;
  /** Socket errors (send failures, ICMP errors reported by the kernel). */
  errors: number;
}

export function emptyDirectionStats(): DirectionStats {
  return {
    received: 0,
    forwarded: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    delayed: 0,
    overflow: 0,
    discarded: 0,
    queued: 0,
    bytesReceived: 0,
    bytesForwarded: 0,
  };
}

export function emptyRelayStats(): RelayStats {
  return { up: emptyDirectionStats(), down: emptyDirectionStats(), clients: { active: 0, seen: 0, expired: 0, evicted: 0 }, errors: 0 };
}

/** A deep copy, so that a caller's snapshot does not change under it. */
export function copyStats(stats: RelayStats): RelayStats {
  return { up: { ...stats.up }, down: { ...stats.down }, clients: { ...stats.clients }, errors: stats.errors };
}

function directionLine(s: DirectionStats): string {
  const extra = [
    s.overflow ? `${s.overflow} overflow` : '',
    s.discarded ? `${s.discarded} discarded` : '',
    s.queued ? `${s.queued} queued` : '',
  ].filter(Boolean);
  return (
    `${s.received} received, ${s.forwarded} forwarded, ${s.dropped} dropped, ${s.duplicated} duplicated, ` +
    `${s.reordered} reordered, ${s.delayed} delayed` +
    (extra.length ? `, ${extra.join(', ')}` : '') +
    `, ${s.bytesReceived} bytes in, ${s.bytesForwarded} bytes out`
  );
}

const ARROW: Record<Direction, string> = { up: 'client → server', down: 'server → client' };

/** One line for the periodic report. */
export function statsLine(stats: RelayStats, elapsedMs: number): string {
  const short = (s: DirectionStats): string =>
    `${s.received} in ${s.forwarded} out ${s.dropped} dropped ${s.duplicated} dup ${s.reordered} reordered ${s.queued} queued`;
  return `[${(elapsedMs / 1000).toFixed(1)} s] up: ${short(stats.up)} | down: ${short(stats.down)} | clients ${stats.clients.active}`;
}

/** The final summary for a person. */
export function summaryText(stats: RelayStats, elapsedMs: number, seed: number): string {
  const c = stats.clients;
  return [
    `impair summary after ${(elapsedMs / 1000).toFixed(1)} s, seed ${seed}`,
    `  up   (${ARROW.up}): ${directionLine(stats.up)}`,
    `  down (${ARROW.down}): ${directionLine(stats.down)}`,
    `  clients: ${c.seen} seen, ${c.active} active, ${c.expired} expired, ${c.evicted} evicted; ${stats.errors} socket errors`,
  ].join('\n');
}

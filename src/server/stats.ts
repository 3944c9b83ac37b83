// Counters of what the server did, by transport. Read by the demo's live line and the metrics.
import type { TransportName } from '../store/types.ts';

export interface TransportStats {
  /** Messages that decoded. */
  messages: number;
  /** Bytes of those messages and of malformed ones (application bytes, no TCP prefix). */
  bytesIn: number;
  /** Bytes of replies sent. */
  bytesOut: number;
  readingsStored: number;
  duplicates: number;
  malformed: number;
  /** Well-formed messages refused with an ERROR. */
  refused: number;
  /** UDP datagrams, malformed or refused, left unanswered (an ERROR would have been larger). */
  unanswered: number;
}

export type ServerStats = Record<TransportName, TransportStats>;

export function emptyStats(): ServerStats {
  const one = (): TransportStats => ({
    messages: 0, bytesIn: 0, bytesOut: 0, readingsStored: 0, duplicates: 0, malformed: 0, refused: 0, unanswered: 0,
  });
  return { tcp: one(), udp: one(), rudp: one() };
}

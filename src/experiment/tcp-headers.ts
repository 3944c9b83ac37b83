// The TCP header sizes a run actually used, read from its capture: the SYN's and SYN-ACK's (the
// options offered and accepted) and the usual size of every later segment (timestamps, when both
// ends agreed on them, add 12 bytes to each). The overhead model takes these instead of assuming.
import type { CaptureFile } from '../analysis/capture.ts';
import { dissectRecord } from '../analysis/packet.ts';
import { hasFlag, TcpFlag } from '../analysis/tcp.ts';
import type { TcpHeaders } from './types.ts';

/** Header sizes of the TCP flows on `port` in a capture; null when it holds no TCP handshake. */
export function negotiatedTcpHeaders(capture: CaptureFile, port: number): TcpHeaders | null {
  let syn: number | null = null;
  let synAck: number | null = null;
  let options: string[] = [];
  const sizes = new Map<number, number>();
  for (const record of capture.records) {
    const tcp = dissectRecord(record).transport;
    if (tcp?.protocol !== 'tcp' || (tcp.sourcePort !== port && tcp.destinationPort !== port)) continue;
    if (hasFlag(tcp, TcpFlag.SYN)) {
      if (hasFlag(tcp, TcpFlag.ACK)) synAck ??= tcp.headerLength;
      else if (syn === null) {
        syn = tcp.headerLength;
        options = [
          ...(tcp.mss !== undefined ? [`MSS ${tcp.mss}`] : []),
          ...(tcp.sackPermitted ? ['SACK permitted'] : []),
          ...(tcp.timestamp !== undefined ? ['timestamps'] : []),
          ...(tcp.windowScale !== undefined ? [`window scale ${tcp.windowScale}`] : []),
        ];
      }
    } else {
      sizes.set(tcp.headerLength, (sizes.get(tcp.headerLength) ?? 0) + 1);
    }
  }
  if (syn === null || synAck === null) return null;
  // The most frequent size (SACK blocks make a few segments longer under loss).
  const segment = [...sizes].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0]?.[0] ?? 20;
  return { syn, synAck, segment, options };
}

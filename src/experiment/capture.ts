// tcpdump on one end of the namespace pair's veth, writing a pcap file. It prints one line per
// packet as well, so stop() can tell when the link has gone quiet: it waits until no packet has
// been seen for `quietMs` (bounded by a deadline), then ends tcpdump with SIGINT, which writes
// out what it holds, and waits for its exit and its "N packets captured" statistics.
import type { ChildProcess } from 'node:child_process';
import type { NetNamespace, NetPair } from '../netns/pair.ts';

export interface CaptureFigures {
  readonly captured: number;
  readonly droppedByKernel: number;
}

export interface LinkCapture {
  /** Packets printed so far. */
  readonly packets: number;
  /** When the last packet was printed (performance.now()), or the start. */
  readonly lastPacketAt: number;
  stop(options?: { quietMs?: number; timeoutMs?: number }): Promise<CaptureFigures>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function statistic(stderr: string, pattern: RegExp): number {
  const m = pattern.exec(stderr);
  return m?.[1] === undefined ? -1 : Number(m[1]);
}

/** Starts tcpdump in `ns` on its veth end; resolves once it is listening. */
export async function startLinkCapture(pair: NetPair, ns: NetNamespace, file: string, filter: string, startTimeoutMs = 10_000): Promise<LinkCapture> {
  const args = ['-i', ns.iface, '-n', '-l', '-U', '--immediate-mode', '--print', '-Z', 'root', '-B', '8192', '-w', file, filter];
  const child: ChildProcess = pair.spawn(ns, 'tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let packets = 0;
  let lastPacketAt = performance.now();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('close', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error) => {
      stderr += `cannot start tcpdump: ${error.message}\n`;
      exited = true;
      resolve();
    });
  });
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const ch of text) if (ch === '\n') packets++;
    lastPacketAt = performance.now();
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));

  const deadline = performance.now() + startTimeoutMs;
  while (!/listening on /.test(stderr)) {
    if (exited) throw new Error(`tcpdump ended before it listened: ${stderr.trim()}`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tcpdump did not start listening within ${startTimeoutMs} ms: ${stderr.trim()}`);
    }
    await sleep(10);
  }
  lastPacketAt = performance.now();

  return {
    get packets() {
      return packets;
    },
    get lastPacketAt() {
      return lastPacketAt;
    },
    async stop({ quietMs = 300, timeoutMs = 15_000 } = {}) {
      const end = performance.now() + timeoutMs;
      while (!exited && performance.now() - lastPacketAt < quietMs && performance.now() < end) await sleep(20);
      if (!exited) child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), Math.max(1000, end - performance.now()));
      await exit;
      clearTimeout(killer);
      const captured = statistic(stderr, /(\d+) packets? captured/);
      if (captured < 0) throw new Error(`tcpdump ended without its statistics: ${stderr.trim()}`);
      return { captured, droppedByKernel: Math.max(0, statistic(stderr, /(\d+) packets? dropped by kernel/)) };
    },
  };
}

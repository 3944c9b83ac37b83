// Runs tcpdump on one interface with a capture filter, writing a pcap file, and stops it
// cleanly. Needs root and tcpdump on PATH (guard the test with requireAll(root, command('tcpdump'))).
//
//   const capture = await startCapture({ interface: 'lo', filter: `tcp port ${port}`, file });
//   t.after(() => capture.kill());
//   ... generate traffic, wait until every socket has closed ...
//   const stats = await capture.stop();
//
// startCapture resolves once tcpdump reports "listening on", so traffic sent afterwards is
// captured. stop() first sends a marker UDP datagram to a port the capture also listens to
// and waits until tcpdump has printed it: everything sent before the marker has then been
// written to the file. Only then is tcpdump sent SIGINT and awaited. The marker datagram is
// part of the capture (a UDP flow to `markerPort` on 127.0.0.1), so tests that count flows
// should leave it out by its port. Every wait is bounded by a timeout.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

export interface CaptureOptions {
  /** Interface to capture on, e.g. 'lo' or 'any'. */
  readonly interface: string;
  /** pcap-filter expression selecting the test's own traffic. */
  readonly filter: string;
  /** Path of the pcap file tcpdump writes. */
  readonly file: string;
  /** tcpdump -y: data link type, e.g. 'EN10MB', 'LINUX_SLL', 'LINUX_SLL2'. */
  readonly linkType?: string;
  /** tcpdump -s: bytes captured per packet. */
  readonly snapLength?: number;
  /** tcpdump -B: kernel buffer in KiB (default 32768: loopback frames reach 64 KiB each). */
  readonly bufferKiB?: number;
  /** Milliseconds to wait for tcpdump to start listening (default 10 s). */
  readonly startTimeoutMs?: number;
}

export interface CaptureStats {
  /** "N packets captured" as tcpdump reported it on exit. */
  readonly captured: number;
  readonly receivedByFilter: number;
  readonly droppedByKernel: number;
  /** Everything tcpdump wrote to stderr. */
  readonly stderr: string;
}

export interface RunningCapture {
  readonly pid: number;
  readonly file: string;
  /** Link type tcpdump announced, e.g. 'EN10MB'. */
  readonly linkType: string;
  /** UDP port on 127.0.0.1 that receives the marker datagram sent by stop(). */
  readonly markerPort: number;
  /** Lines tcpdump printed so far, one per captured packet. */
  readonly lines: readonly string[];
  /** Resolves when a printed line matches `pattern`; rejects after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Flushes (see above), stops tcpdump with SIGINT and returns its statistics. */
  stop(timeoutMs?: number): Promise<CaptureStats>;
  /** Ends tcpdump at once with SIGKILL if it still runs (for t.after / finally). */
  kill(): void;
}

const MARKER_PREFIX = 'sensorwire-capture-marker';

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void = () => {}): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function count(stderr: string, pattern: RegExp): number {
  const match = pattern.exec(stderr);
  return match?.[1] === undefined ? -1 : Number(match[1]);
}

class TcpdumpCapture implements RunningCapture {
  readonly pid: number;
  readonly file: string;
  readonly markerPort: number;
  linkType = '';
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private readonly marker: Socket;
  private stderr = '';
  private stdoutRest = '';
  private exited = false;
  private markerOpen = true;
  private readonly exit: Promise<void>;
  private readonly lineWaiters = new Set<() => void>();

  constructor(child: ChildProcess, pid: number, file: string, marker: Socket, markerPort: number) {
    this.child = child;
    this.pid = pid;
    this.file = file;
    this.marker = marker;
    this.markerPort = markerPort;
    this.exit = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        for (const wake of this.lineWaiters) wake();
        resolve();
      });
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const parts = (this.stdoutRest + chunk).split('\n');
      this.stdoutRest = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const wake of this.lineWaiters) wake();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
      for (const wake of this.lineWaiters) wake();
    });
  }

  get stderrText(): string {
    return this.stderr;
  }

  get hasExited(): boolean {
    return this.exited;
  }

  /** Resolves when `test` returns a value; re-checked on every output or exit of tcpdump. */
  waitUntil<T>(test: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    let wake: () => void = () => {};
    const found = new Promise<T>((resolve, reject) => {
      wake = () => {
        const value = test();
        if (value !== undefined) resolve(value);
        else if (this.exited) reject(new Error(`tcpdump exited before ${what}; stderr: ${this.stderr.trim()}`));
      };
      this.lineWaiters.add(wake);
      wake();
    });
    return withTimeout(found, timeoutMs, what).finally(() => this.lineWaiters.delete(wake));
  }

  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.waitUntil(() => this.lines.find((l) => pattern.test(l)), timeoutMs, `a tcpdump line matching ${pattern}`);
  }

  async stop(timeoutMs = 10_000): Promise<CaptureStats> {
    try {
      if (!this.exited) {
        const payload = Buffer.from(`${MARKER_PREFIX}-${this.pid}-${Date.now()}`);
        this.marker.send(payload, this.markerPort, '127.0.0.1');
        await this.waitForLine(new RegExp(`\\.${this.markerPort}: UDP, length ${payload.length}$`), timeoutMs);
        this.child.kill('SIGINT');
        await withTimeout(this.exit, timeoutMs, 'tcpdump to exit after SIGINT', () => this.kill());
      }
    } finally {
      this.closeMarker();
    }
    return {
      captured: count(this.stderr, /(\d+) packets? captured/),
      receivedByFilter: count(this.stderr, /(\d+) packets? received by filter/),
      droppedByKernel: count(this.stderr, /(\d+) packets? dropped by kernel/),
      stderr: this.stderr,
    };
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
    this.closeMarker();
  }

  private closeMarker(): void {
    if (!this.markerOpen) return;
    this.markerOpen = false;
    this.marker.close();
  }
}

/** Starts tcpdump and resolves once it is listening. */
export async function startCapture(options: CaptureOptions): Promise<RunningCapture> {
  const marker = createSocket('udp4');
  marker.on('message', () => {});
  marker.bind(0, '127.0.0.1');
  await withTimeout(once(marker, 'listening'), 5_000, 'the marker socket to bind');
  const markerPort = marker.address().port;

  const args = ['-i', options.interface, '-n', '-l', '-U', '--immediate-mode', '--print', '-Z', 'root'];
  args.push('-B', String(options.bufferKiB ?? 32768));
  if (options.linkType !== undefined) args.push('-y', options.linkType);
  if (options.snapLength !== undefined) args.push('-s', String(options.snapLength));
  args.push('-w', options.file, `(${options.filter}) or (udp and dst port ${markerPort})`);

  const child = spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawned = await withTimeout(
    Promise.race([
      once(child, 'spawn').then(() => undefined),
      once(child, 'error').then(([error]: unknown[]) => error),
    ]),
    5_000,
    'tcpdump to start',
  );
  if (spawned !== undefined || child.pid === undefined) {
    marker.close();
    throw new Error(`cannot start tcpdump: ${String(spawned)}`);
  }
  const capture = new TcpdumpCapture(child, child.pid, options.file, marker, markerPort);
  try {
    const linkType = await capture.waitUntil(
      () => /listening on \S+, link-type (\S+)/.exec(capture.stderrText)?.[1],
      options.startTimeoutMs ?? 10_000,
      'tcpdump to report "listening on"',
    );
    capture.linkType = linkType;
  } catch (error) {
    capture.kill();
    throw error;
  }
  return capture;
}

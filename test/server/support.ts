// Shared pieces of the server integration tests: temp directories, an in-process server on a
// SQLite file, hand-made TCP and UDP clients (raw sockets + the codec), the server CLI as a
// child process, and queries of what the store holds. Every wait has a deadline; every socket,
// server and process is closed or killed by the test's cleanup, also when the test fails.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import {
  StreamDecoder, decode, encode, encodeFrame, Limits, ProtocolError,
  type EncodeOptions, type Message, type MessageOf,
} from '../../src/protocol/index.ts';
import { silentLogger } from '../../src/log.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/run.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store, StoredReading } from '../../src/store/types.ts';
import type { DeviceEvent, DeviceSummary } from '../../src/device/device.ts';
import { within } from '../support/wait.ts';

export const HOST = '127.0.0.1';

/** A fresh temp directory, removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'sensorwire-server-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Registers cleanups that run in reverse order when the test ends (passed or failed). */
export function cleanups(t: TestContext): (fn: () => unknown) => void {
  const list: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of list.reverse()) {
      try {
        await fn();
      } catch {
        // Cleanup goes on with the rest.
      }
    }
  });
  return (fn) => list.push(fn);
}

export interface SqliteServer {
  readonly server: RunningServer;
  /** The store the server writes (wrapped, when `wrap` was given). */
  readonly store: Store;
  readonly dbPath: string;
  readonly tcpPort: number;
  readonly udpPort: number;
}

/** startServer on 127.0.0.1 (ports 0) with a SQLite store in a temp dir; closed at the end. */
export async function startSqliteServer(
  t: TestContext,
  options: Partial<Omit<ServerOptions, 'store' | 'host'>> & { readonly wrap?: (store: Store) => Store } = {},
): Promise<SqliteServer> {
  const dir = tempDir(t);
  const dbPath = join(dir, 'readings.db');
  const { wrap, ...rest } = options;
  const sqlite = openSqliteStore(dbPath);
  const store = wrap ? wrap(sqlite) : sqlite;
  const server = await startServer({ host: HOST, tcpPort: 0, udpPort: 0, store, log: silentLogger(), ...rest });
  t.after(async () => {
    // A test that failed with a commit held must not hang its cleanup.
    if (store instanceof GatedStore) store.release();
    await within(server.close(), 'the server to close', 10_000);
  });
  return { server, store, dbPath, tcpPort: server.tcp.port, udpPort: server.udp.port };
}

// ---- hand-made clients ------------------------------------------------------------------------

type Predicate = (m: Message) => boolean;

/** Waits for messages collected into `got` (by index, so each is taken once). */
class Inbox {
  readonly got: Message[] = [];
  private taken = 0;
  private waiters: (() => void)[] = [];

  push(m: Message): void {
    this.got.push(m);
    for (const w of this.waiters.splice(0)) w();
  }

  poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next message (after those already taken) that matches; earlier non-matching ones are skipped. */
  async next(what: string, match: Predicate = () => true, ms = 5000, stop?: () => boolean): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.taken < this.got.length) {
        const m = this.got[this.taken++]!;
        if (match(m)) return m;
      }
      if (stop?.()) throw new Error(`the connection closed before ${what}`);
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
}

export const isType = <T extends Message['type']>(type: T) => (m: Message): m is MessageOf<T> => m.type === type;
export const ackOf = (seq: number) => (m: Message): boolean => m.type === 'ACK' && m.ackSeq === seq;
export const errorFor = (seq: number) => (m: Message): boolean => m.type === 'ERROR' && m.refSeq === seq;

/** A raw TCP client: writes bytes or framed messages, decodes what the server sends back. */
export class RawTcpClient {
  readonly socket: Socket;
  readonly inbox = new Inbox();
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  /** Set when the server ended its side (FIN) or the socket closed. */
  ended = false;
  private readonly decoder = new StreamDecoder();
  /** Malformed frames from the server (there should be none). */
  readonly bad: ProtocolError[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.write(chunk)) {
        if (f.ok) this.inbox.push(f.message);
        else this.bad.push(f.error);
      }
    });
    socket.on('error', () => {});
    socket.on('end', () => {
      this.ended = true;
      this.inbox.poke();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.inbox.poke();
        resolve();
      }),
    );
  }

  static async connect(t: TestContext, port: number, host = HOST): Promise<RawTcpClient> {
    const socket = netConnect({ host, port, noDelay: true });
    t.after(() => socket.destroy());
    await within(
      new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)),
      `a TCP connection to ${host}:${port}`,
    );
    return new RawTcpClient(socket);
  }

  send(message: Message, options?: EncodeOptions): void {
    this.socket.write(encodeFrame(message, options));
  }

  /** Writes a whole message as one frame, exactly these bytes after the length prefix. */
  sendMessageBytes(bytes: Uint8Array): void {
    const prefix: number[] = [];
    let n = bytes.length;
    while (n >= 0x80) {
      prefix.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    prefix.push(n);
    this.socket.write(Buffer.concat([Buffer.from(prefix), bytes]));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  next(what: string, match?: Predicate, ms?: number): Promise<Message> {
    return this.inbox.next(what, match, ms);
  }

  /** Like next, but fails at once if the server closes first. */
  nextOpen(what: string, match?: Predicate, ms?: number): Promise<Message> {
    return this.inbox.next(what, match, ms, () => this.ended);
  }

  close(): void {
    this.socket.end();
  }
}

/** A raw UDP client: sends datagrams to one server port, keeps what comes back with its size. */
export class RawUdpClient {
  readonly socket: UdpSocket;
  readonly inbox = new Inbox();
  /** Size in bytes of every datagram received, in order. */
  readonly sizes: number[] = [];
  private readonly port: number;
  private readonly host: string;

  private constructor(socket: UdpSocket, port: number, host: string) {
    this.socket = socket;
    this.port = port;
    this.host = host;
    socket.on('message', (datagram: Buffer) => {
      this.sizes.push(datagram.length);
      try {
        this.inbox.push(decode(new Uint8Array(datagram), { maxMessageSize: Limits.MAX_UDP_MESSAGE }));
      } catch {
        // A malformed reply is counted in sizes only; tests look at the messages.
      }
    });
    socket.on('error', () => {});
  }

  static async open(t: TestContext, port: number, host = HOST): Promise<RawUdpClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())).catch(() => {}));
    return new RawUdpClient(socket, port, host);
  }

  sendBytes(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, this.port, this.host, (e) => (e ? reject(e) : resolve())));
  }

  send(message: Message, options?: EncodeOptions): Promise<void> {
    return this.sendBytes(encode(message, { maxMessageSize: Limits.MAX_UDP_MESSAGE, ...options }));
  }

  next(what: string, match?: Predicate, ms?: number): Promise<Message> {
    return this.inbox.next(what, match, ms);
  }
}

// ---- the server CLI as a child process ----------------------------------------------------------

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface LogLine {
  readonly level: number;
  readonly pid: number;
  readonly event?: string;
  readonly [key: string]: unknown;
}

/** `sensorwire server` run as a child process: its addresses, log lines and exit. */
export class ServerProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly pid: number;
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  /** Resolves with the exit code and signal when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  private constructor(child: ChildProcessByStdio<null, Readable, Readable>) {
    this.child = child;
    if (child.pid === undefined) throw new Error('the server process did not start');
    this.pid = child.pid;
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.poke();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // Not a log line.
        }
      }
      this.poke();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.poke();
      resolve({ code, signal });
    }));
  }

  /** Starts the server CLI with these arguments (after `server`); killed by PID when the test ends. */
  static start(t: TestContext, args: readonly string[]): ServerProcess {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const p = new ServerProcess(child);
    t.after(() => p.kill('SIGKILL'));
    return p;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal by PID if the process still runs. */
  kill(signal: NodeJS.Signals): void {
    if (this.running) {
      try {
        process.kill(this.pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  /** Waits until `check` holds on what the process printed; fails early if it exits. */
  async waitFor<T>(what: string, check: () => T | undefined, ms = 15_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (!this.running) throw new Error(`the server exited before ${what}; stderr:\n${this.stderr.slice(-2000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; stderr:\n${this.stderr.slice(-2000)}`);
      // Until the process prints something or exits, or the deadline.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The ports of the `listening tcp/udp HOST:PORT` lines. */
  async listening(ms = 15_000): Promise<{ tcpPort: number; udpPort: number }> {
    return this.waitFor('the listening lines', () => {
      const tcpLine = /^listening tcp (\S+):(\d+)$/m.exec(this.stdout);
      const udpLine = /^listening udp (\S+):(\d+)$/m.exec(this.stdout);
      if (!tcpLine || !udpLine) return undefined;
      return { tcpPort: Number(tcpLine[2]), udpPort: Number(udpLine[2]) };
    }, ms);
  }

  async exit(what: string, ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return within(this.exited, what, ms);
  }
}

/** True while a process with this PID exists (signal 0 probes without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---- what the store holds ---------------------------------------------------------------------

export const readingKey = (r: { device: number; session: number; seq: number; index: number }): string =>
  `${r.device}/${r.session}/${r.seq}/${r.index}`;

export async function allReadings(store: Store, device?: number): Promise<StoredReading[]> {
  const out: StoredReading[] = [];
  for await (const r of store.readings(device === undefined ? {} : { device })) out.push(r);
  return out;
}

export interface StoreCheck {
  readonly readings: StoredReading[];
  /** Readings per device, from totals(). */
  readonly byDevice: Map<number, number>;
  readonly totalReadings: number;
}

/**
 * Reads the store and checks that every (device, session, seq, index) appears once and that
 * totals() agrees with the rows. Returns the readings and counts for the test's own checks.
 */
export async function checkStore(store: Store): Promise<StoreCheck> {
  const readings = await allReadings(store);
  const keys = new Set(readings.map(readingKey));
  assert.equal(keys.size, readings.length, 'a (device, session, seq, index) is stored twice');
  const byDevice = new Map<number, number>();
  let totalReadings = 0;
  for (const t of await store.totals()) {
    byDevice.set(t.device, (byDevice.get(t.device) ?? 0) + t.readings);
    totalReadings += t.readings;
  }
  assert.equal(totalReadings, readings.length, 'totals() disagrees with the stored rows');
  // Each message's readings are indexed 0 … n-1 with no gap.
  const perMessage = new Map<string, number[]>();
  for (const r of readings) {
    const k = `${r.device}/${r.session}/${r.seq}`;
    const list = perMessage.get(k) ?? [];
    list.push(r.index);
    perMessage.set(k, list);
  }
  for (const [k, idx] of perMessage) assert.deepEqual(idx, idx.map((_, i) => i), `message ${k} has a gap in its indexes`);
  return { readings, byDevice, totalReadings };
}

/** Checks each device's summary against the store: all acknowledged, and stored once each. */
export function checkSummaries(summaries: readonly DeviceSummary[], check: StoreCheck): void {
  for (const s of summaries) {
    const r = s.readings;
    assert.ok(r.generated > 0, `device ${s.device} generated nothing`);
    assert.equal(r.acknowledged, r.generated, `device ${s.device}: ${r.acknowledged} of ${r.generated} acknowledged (${JSON.stringify(s)})`);
    assert.equal(r.unacknowledged, 0, `device ${s.device}: unacknowledged readings`);
    assert.equal(r.dropped, 0, `device ${s.device}: dropped readings`);
    assert.equal(r.rejected, 0, `device ${s.device}: rejected readings`);
    assert.equal(check.byDevice.get(s.device) ?? 0, r.generated, `device ${s.device}: stored count differs from generated`);
  }
  const expected = summaries.reduce((n, s) => n + s.readings.generated, 0);
  assert.equal(check.totalReadings, expected, 'the store holds a different number of readings than the devices generated');
  const sessions = new Map(summaries.map((s) => [s.device, s.session]));
  for (const r of check.readings) {
    assert.equal(sessions.get(r.device), r.session, `reading ${readingKey(r)} of an unknown device or session`);
  }
}

// ---- stores that let a test step in -------------------------------------------------------------

/** Delegates every call to `inner`; subclasses override what they watch or change. */
export class DelegatingStore implements Store {
  constructor(protected readonly inner: Store) {}
  saveDevice(record: Parameters<Store['saveDevice']>[0]): Promise<void> {
    return this.inner.saveDevice(record);
  }
  loadDevice(deviceId: number): ReturnType<Store['loadDevice']> {
    return this.inner.loadDevice(deviceId);
  }
  noteSeq(deviceId: number, session: number, seq: number): Promise<void> {
    return this.inner.noteSeq(deviceId, session, seq);
  }
  noteConfig(deviceId: number, configId: number): Promise<void> {
    return this.inner.noteConfig(deviceId, configId);
  }
  commit(batches: Parameters<Store['commit']>[0]): ReturnType<Store['commit']> {
    return this.inner.commit(batches);
  }
  readings(query?: Parameters<Store['readings']>[0]): ReturnType<Store['readings']> {
    return this.inner.readings(query);
  }
  totals(): ReturnType<Store['totals']> {
    return this.inner.totals();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A store whose commits wait for `release()` while the gate is shut; it records each commit. */
export class GatedStore extends DelegatingStore {
  /** Batches of every commit call, in order. */
  readonly calls: Parameters<Store['commit']>[0][] = [];
  /** Date.now() when each commit call arrived and when it returned. */
  readonly calledAt: number[] = [];
  readonly doneAt: number[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  shut(): void {
    this.gate ??= new Promise<void>((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
    this.open = undefined;
  }

  override async commit(batches: Parameters<Store['commit']>[0]): ReturnType<Store['commit']> {
    this.calls.push(batches);
    this.calledAt.push(Date.now());
    if (this.gate) await this.gate;
    const outcomes = await this.inner.commit(batches);
    this.doneAt.push(Date.now());
    return outcomes;
  }
}

/**
 * Collects the READINGS acknowledgements devices report through onEvent, and checks that the
 * store holds exactly the (device, session, seq, index) of the acknowledged messages.
 */
export class AckLog {
  /** device → seq → readings of the acknowledged message */
  readonly acked = new Map<number, Map<number, number>>();
  readonly statuses = new Map<string, number>();
  readonly errors: string[] = [];
  /** Seqs acknowledged a second time (there must be none). */
  readonly repeated: string[] = [];

  readonly onEvent = (device: number, e: DeviceEvent): void => {
    if (e.kind === 'ack' && e.what === 'READINGS') {
      const seqs = this.acked.get(device) ?? new Map<number, number>();
      if (seqs.has(e.ackSeq)) this.repeated.push(`${device}/${e.ackSeq}`);
      seqs.set(e.ackSeq, e.readings);
      this.acked.set(device, seqs);
      this.statuses.set(e.status, (this.statuses.get(e.status) ?? 0) + 1);
    }
    if (e.kind === 'error') this.errors.push(`${device}: ${e.name}`);
  };

  status(name: string): number {
    return this.statuses.get(name) ?? 0;
  }

  /** The stored identities are exactly those acknowledged (sessions from the summaries). */
  assertMatches(check: StoreCheck, summaries: readonly DeviceSummary[]): void {
    assert.deepEqual(this.repeated, [], 'a message was acknowledged twice');
    const sessions = new Map(summaries.map((s) => [s.device, s.session]));
    const expected = new Set<string>();
    for (const [device, seqs] of this.acked) {
      const session = sessions.get(device);
      assert.ok(session !== undefined, `acks for device ${device}, which has no summary`);
      for (const [seq, n] of seqs) for (let index = 0; index < n; index++) expected.add(readingKey({ device, session, seq, index }));
    }
    const stored = new Set(check.readings.map(readingKey));
    assert.deepEqual([...stored].filter((k) => !expected.has(k)).slice(0, 20), [], 'stored but never acknowledged');
    assert.deepEqual([...expected].filter((k) => !stored.has(k)).slice(0, 20), [], 'acknowledged but not stored');
    assert.equal(stored.size, expected.size);
  }
}

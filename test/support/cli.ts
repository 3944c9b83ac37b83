// Runs the sensorwire command line as a user does: child processes started from the repo root
// (`node --import tsx src/cli/main.ts …`, `node bin/sensorwire.js …`, `npm start -- …`). Output
// is collected line by line; a test awaits a line or the exit, each wait bounded by a deadline that
// fails with everything the program printed so far (never a fixed sleep); every process is killed
// by its PID when the test that started it ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Generous: a cold `--import tsx` start takes a second of CPU, and many seconds on a loaded two-core
 * machine. Only a hang ever waits this long.
 */
export const TIMEOUT_MS = 45_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Finished extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Something to register clean-up with: a TestContext, or `{ after }` from node:test in a suite. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

type Stream = 'stdout' | 'stderr';

export interface SpawnOptions {
  /** How the program is started: `node --import tsx src/cli/main.ts` (default) or `node bin/sensorwire.js`. */
  readonly via?: 'main' | 'bin';
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Its own process group, which signal() then signals as a whole, as a terminal's Ctrl-C does. */
  readonly group?: boolean;
}

/** A running command-line program. */
export class Cli {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  #out: Record<Stream, string> = { stdout: '', stderr: '' };
  #exit: Exit | undefined;
  readonly #group: boolean;
  readonly #listeners = new Set<() => void>();

  /** Starts `command args` (in its own process group when `group`, e.g. npm and what it runs). */
  constructor(name: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {}) {
    this.name = name;
    this.#group = options.group === true;
    this.child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.#group,
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream]?.setEncoding('utf8').on('data', (text: string) => {
        this.#out[stream] += text;
        this.#notify();
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => {
        this.#out.stderr += `spawn failed: ${error.message}\n`;
        this.#exit = { code: null, signal: null };
        this.#notify();
        resolve(this.#exit);
      });
      this.child.on('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  get stdout(): string {
    return this.#out.stdout;
  }

  get stderr(): string {
    return this.#out.stderr;
  }

  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** The complete lines printed so far on a stream. */
  lines(stream: Stream = 'stdout'): string[] {
    const lines = this.#out[stream].split('\n');
    const last = lines.pop(); // '' after the last newline, or an unfinished line
    if (this.#exit !== undefined && last !== undefined && last !== '') lines.push(last); // finished after all
    return lines;
  }

  /** Everything printed so far, for failure messages. */
  describe(): string {
    const exit = this.#exit ? `exited with code ${this.#exit.code}, signal ${this.#exit.signal}` : 'still running';
    return `${this.name} (${exit})\n--- stdout ---\n${this.#out.stdout}\n--- stderr ---\n${this.#out.stderr}--- end ---`;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /** Resolves when `check` returns a value; fails at the deadline, or when the program exits first. */
  #until<T>(what: string, check: () => T | undefined, timeoutMs: number, evenAfterExit = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = (): void => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.#exit !== undefined && !evenAfterExit) {
          done();
          reject(new Error(`${what}: the program ended first\n${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: nothing after ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      this.#listeners.add(listener);
      listener();
    });
  }

  /** Waits until `count` lines of `stream` match, and returns the matches. */
  linesMatching(pattern: RegExp, count = 1, stream: Stream = 'stdout', timeoutMs = TIMEOUT_MS): Promise<RegExpExecArray[]> {
    return this.#until(`waiting for ${count} ${stream} line(s) matching ${pattern}`, () => {
      const matches = this.lines(stream).map((l) => pattern.exec(l)).filter((m) => m !== null);
      return matches.length >= count ? matches : undefined;
    }, timeoutMs);
  }

  /** The first line of `stream` (printed so far or later) that matches. */
  async line(pattern: RegExp, stream: Stream = 'stdout', timeoutMs = TIMEOUT_MS): Promise<RegExpExecArray> {
    const [match] = await this.linesMatching(pattern, 1, stream, timeoutMs);
    return match!;
  }

  /** Waits for the program to end by itself (killing it if it does not in time). */
  async finished(timeoutMs = TIMEOUT_MS): Promise<Finished> {
    try {
      const exit = await this.#until('waiting for the program to end', () => this.#exit, timeoutMs, true);
      return { ...exit, stdout: this.#out.stdout, stderr: this.#out.stderr };
    } finally {
      this.kill();
    }
  }

  /** Sends a signal to the process, or to its whole group if it has one (as Ctrl-C in a terminal sends SIGINT). */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit === undefined && this.child.pid !== undefined) process.kill(this.#group ? -this.child.pid : this.child.pid, signal);
  }

  /** Kills the process (and its group, if it has one) by PID, if it is still running. */
  kill(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (this.#group) {
      // npm runs sh, which runs tsx, which runs node: end them all, even after npm itself is gone.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    } else if (this.#exit === undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended in the meantime
      }
    }
  }
}

/** Clean-up for what a suite shares: collects functions; `run()` them from the suite's `after`. */
export class SuiteCleanup implements Cleanup {
  readonly #fns: (() => unknown)[] = [];

  after(fn: () => unknown): void {
    this.#fns.push(fn);
  }

  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await fn();
  }
}

/** Starts `sensorwire args` (killed by PID when `t` ends). */
export function sensorwire(t: Cleanup, args: readonly string[], options: SpawnOptions = {}): Cli {
  const entry = options.via === 'bin' ? ['bin/sensorwire.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const cli = new Cli(`sensorwire ${args.join(' ')}`, process.execPath, [...entry, ...args], options);
  t.after(() => cli.kill());
  return cli;
}

/** Runs `sensorwire args` to its end. */
export function run(t: Cleanup, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Finished> {
  return sensorwire(t, args, options).finished(options.timeoutMs);
}

/** A temporary directory, removed when `t` ends. */
export function tempDir(t: Cleanup, prefix = 'sensorwire-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface ServerProcess {
  readonly cli: Cli;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly db: string;
  /** Ctrl-C: SIGINT, then waits for the end. */
  stop(): Promise<Finished>;
}

/** Starts `sensorwire server` on free ports and waits for both `listening` lines. */
export async function server(t: Cleanup, db: string, args: readonly string[] = [], options: SpawnOptions = {}): Promise<ServerProcess> {
  const cli = sensorwire(t, ['server', '--tcp-port', '0', '--udp-port', '0', '--db', db, ...args], options);
  const [tcpLine, udpLine] = await Promise.all([
    cli.line(/^listening tcp 127\.0\.0\.1:(\d+)$/),
    cli.line(/^listening udp 127\.0\.0\.1:(\d+)$/),
  ]);
  return {
    cli,
    tcpPort: Number(tcpLine[1]),
    udpPort: Number(udpLine[1]),
    db,
    stop: () => {
      cli.signal('SIGINT');
      return cli.finished();
    },
  };
}

/** The lines of a JSON-lines text, parsed. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Maps `items` through `fn`, at most `limit` at a time: starting more processes than there are cores only makes each slower. */
export async function inTurn<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>, limit = 2): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// Runs the example programs and the Python peers as child processes for the tests: collects their
// output line by line, lets a test await a line (never a fixed sleep), bounds every wait with a
// timeout that fails with the program's output so far, and kills each process by PID afterwards.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
/** Generous: a cold `--import tsx` start can take a few seconds on a loaded CI machine. */
export const TIMEOUT_MS = 20_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Program {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  #partial = '';
  #listeners = new Set<() => void>();
  #exit: Exit | null = null;
  readonly exited: Promise<Exit>;

  constructor(name: string, command: string, args: string[], stdin: 'pipe' | 'ignore') {
    this.name = name;
    this.child = spawn(command, args, { cwd: REPO, stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.#notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.stderr += `spawn failed: ${err.message}\n`;
        this.#exit = { code: null, signal: null };
        this.#notify();
        resolve(this.#exit);
      });
      this.child.on('close', (code, signal) => {
        if (this.#partial !== '') this.lines.push(this.#partial);
        this.#partial = '';
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /** Everything printed so far, for failure messages. */
  describe(): string {
    return `${this.name}\n--- stdout ---\n${[...this.lines, this.#partial].join('\n')}\n--- stderr ---\n${this.stderr}`;
  }

  /** Resolves when `check` returns a value; fails on timeout or if the program exits first. */
  #until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      const listener = (): void => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.#exit) {
          done();
          reject(new Error(`${what}: the program exited (code ${this.#exit.code}, signal ${this.#exit.signal}) first\n${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: nothing after ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      this.#listeners.add(listener);
      listener();
    });
  }

  /** The first line (printed so far or later) that matches. */
  line(pattern: RegExp, timeoutMs = TIMEOUT_MS): Promise<RegExpMatchArray> {
    return this.#until(
      `waiting for a line matching ${pattern}`,
      () => {
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match) return match;
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  /** Waits until `count` lines match, and returns them all. */
  linesMatching(pattern: RegExp, count: number, timeoutMs = TIMEOUT_MS): Promise<RegExpMatchArray[]> {
    return this.#until(
      `waiting for ${count} lines matching ${pattern}`,
      () => {
        const matches = this.lines.map((l) => pattern.exec(l)).filter((m): m is RegExpExecArray => m !== null);
        return matches.length >= count ? matches : undefined;
      },
      timeoutMs,
    );
  }

  /** The port from the "Listening on 127.0.0.1:41234" line every server prints. */
  async port(): Promise<number> {
    const match = await this.line(/^Listening on (.+):(\d+)$/);
    return Number(match[2]);
  }

  /** Waits for the program to exit by itself. */
  exit(timeoutMs = TIMEOUT_MS): Promise<Exit> {
    return this.#until('waiting for the program to exit', () => this.#exit ?? undefined, timeoutMs);
  }

  /** Waits for a clean exit (code 0) and returns stdout's lines. */
  async success(timeoutMs = TIMEOUT_MS): Promise<string[]> {
    const exit = await this.exit(timeoutMs);
    if (exit.code !== 0) throw new Error(`expected exit code 0, got ${exit.code} (signal ${exit.signal})\n${this.describe()}`);
    return this.lines;
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  endInput(): void {
    this.child.stdin?.end();
  }

  /** Kills the process by its PID if it is still running, and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.#exit === null && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // it exited in the meantime
      }
      await this.exited;
    }
  }
}

interface StartOptions {
  /** Give the program a stdin pipe the test writes to (default: no stdin). */
  stdin?: boolean;
}

function track(t: TestContext, program: Program): Program {
  t.after(() => program.kill());
  return program;
}

/** Starts `examples/<script>` with tsx, from the repo root; killed when the test ends. */
export function example(t: TestContext, script: string, args: readonly (string | number)[], options: StartOptions = {}): Program {
  const argv = ['--import', 'tsx', `examples/${script}`, ...args.map(String)];
  return track(t, new Program(script, process.execPath, argv, options.stdin ? 'pipe' : 'ignore'));
}

/** Starts `test/examples/fixtures/<script>` with python3 (unbuffered); killed when the test ends. */
export function python(t: TestContext, script: string, args: readonly (string | number)[], options: StartOptions = {}): Program {
  const argv = ['-u', `${FIXTURES}${script}`, ...args.map(String)];
  return track(t, new Program(`python3 ${script}`, 'python3', argv, options.stdin ? 'pipe' : 'ignore'));
}

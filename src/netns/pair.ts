// Two network namespaces joined by a veth pair, for tests that need a real link with real loss:
// the kernel's TCP retransmits across it, captures see real packets. netem is not available on
// the test machines, so loss is an nftables rule (`numgen random`) in each namespace.
//
//   const pair = await createNetPair();   t.after(() => pair.close());
//   await pair.setLoss(20);               // 20 % of packets dropped, each direction, TCP and UDP alike
//   const peer = pair.node('b', ['test/netns/peer.ts', 'udp-echo', pair.b.address]);
//
// Used by `sensorwire experiment` and by the tests (test/support/netns.ts re-exports it).
//
// Names carry a random suffix (sw-a-xxxxxx, sw-b-xxxxxx) so that concurrent test runs do not
// meet; the subnet (10.203.N.0/24, and fd00:5357:N::/64 with ipv6) exists only inside the two
// namespaces. close() kills every process in them by PID and deletes them (the veth goes too);
// it is idempotent, and also runs when the process exits or gets SIGINT/SIGTERM, so a failing
// or interrupted test still leaves nothing behind.
//
// Where the loss happens: by default on the receiving side (netfilter input hook). A capture runs
// before netfilter on both sides, so tcpdump in either namespace still sees a dropped packet, and
// a capture at the sender shows everything it put on the wire (originals and retransmissions).
// With `lossHook: 'output'` the sender's stack drops it instead, before any capture sees it.
import { execFile, execFileSync, spawn as spawnProcess, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { command, requireAll, root, type Requirement } from './requirements.ts';

/** The repository's root: where spawned programs run (`node --import tsx src/cli/main.ts …`). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Something to register clean-up with: a node:test TestContext or suite, or anything with `after`. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** What this helper needs; createNetPair fails naming the Debian packages to install. */
export const NETNS_REQUIREMENTS: readonly Requirement[] = [root, command('ip', 'iproute2'), command('nft', 'nftables')];

export type Side = 'a' | 'b';

export interface NetPairOptions {
  /** MTU of both veth ends. Default 1500. */
  readonly mtu?: number;
  /**
   * Also give each end an IPv6 address (fd00:5357:N::1 and ::2, no duplicate address detection).
   * Without it IPv6 is switched off in both namespaces, so the link carries nothing but IPv4.
   */
  readonly ipv6?: boolean;
  /** Let TCP pass the veth large GSO packets (default false: every packet is at most one MTU, as on a wire). */
  readonly gso?: boolean;
  /** Where the loss rule drops: at the receiver's input (default) or the sender's output. */
  readonly lossHook?: 'input' | 'output';
  /**
   * Lower bound of TCP's retransmission timeout on the link's route (`rto_min`), e.g. 10. The
   * kernel's default, 200 ms doubling with each loss of the same segment, makes a transfer at
   * 20 % loss take anything from a second to a minute; a small floor keeps it to seconds.
   */
  readonly tcpRtoMinMs?: number;
  /** Registers close() with a test (or suite) as well. */
  readonly cleanup?: Cleanup;
}

export interface NetNamespace {
  readonly side: Side;
  /** The namespace's name, for `ip netns exec NAME …`. */
  readonly name: string;
  /** Its end of the veth pair (the same name in every pair: it lives inside the namespace). */
  readonly iface: string;
  readonly address: string;
  readonly address6?: string;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface NetPair {
  readonly a: NetNamespace;
  readonly b: NetNamespace;
  /** e.g. 10.203.17.0/24 */
  readonly subnet: string;
  /** The loss now set, in percent. */
  readonly loss: number;
  /**
   * Drops `percent` (0..100, steps of 0.01) of the packets crossing the veth, in each direction:
   * TCP, UDP, ICMP, IPv4 and IPv6 alike. Not the link's housekeeping (ARP, IPv6 neighbour and
   * router discovery, multicast listener reports), so addresses still resolve.
   * Replaces the previous rule and resets the counters; 0 removes it.
   */
  setLoss(percent: number): Promise<void>;
  /** Packets the loss rule has dropped in each namespace since the last setLoss. */
  dropped(): Promise<Record<Side, number>>;
  /** Starts a program inside a namespace (cwd: the repo root); tracked, killed by close(). */
  spawn(ns: Side | NetNamespace, cmd: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** `node --import tsx ARGS` inside a namespace, from the repo root; tracked like spawn. */
  node(ns: Side | NetNamespace, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs a program inside a namespace to its end; rejects on a non-zero exit or after the timeout. */
  exec(ns: Side | NetNamespace, cmd: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Kills every process in both namespaces by PID and deletes them. Idempotent. */
  close(): Promise<void>;
}

const IFACE: Record<Side, string> = { a: 'veth-a', b: 'veth-b' };
const TABLE = 'sw';
const COMMAND_TIMEOUT_MS = 10_000;

/** Runs a command on the host; rejects with its stderr. */
function run(cmd: string, args: readonly string[], input?: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve({ stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

// ---- clean-up that survives a failing or interrupted test -------------------------------------

const live = new Set<PairImpl>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const pair of live) pair.closeSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      for (const pair of live) pair.closeSync();
      // Then die of the signal as if nobody had listened (unless someone else handles it).
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** PIDs of every process inside a namespace (ours: the namespaces are ours alone). */
function pidsIn(name: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
  } catch {
    return [];
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

// ---- the pair ---------------------------------------------------------------------------------

// The link's own housekeeping is never dropped (as ARP, which nftables' inet family does not see):
// IPv6 neighbour and router discovery and multicast listener messages.
const HOUSEKEEPING_ICMPV6 = [
  'nd-neighbor-solicit',
  'nd-neighbor-advert',
  'nd-router-solicit',
  'nd-router-advert',
  'nd-redirect',
  'mld-listener-query',
  'mld-listener-report',
  'mld-listener-done',
  'mld2-listener-report',
];

function lossRuleset(hook: 'input' | 'output', iface: string, percent: number): string {
  const match = hook === 'input' ? `iifname "${iface}"` : `oifname "${iface}"`;
  // `table … {}` then `delete table` makes the replacement work whether or not a rule was set;
  // nft applies the whole text as one transaction.
  const reset = `table inet ${TABLE} {}\ndelete table inet ${TABLE}\n`;
  if (percent === 0) return reset;
  const threshold = Math.round(percent * 100); // out of 10 000
  return (
    reset +
    `table inet ${TABLE} {\n` +
    `  chain loss {\n` +
    `    type filter hook ${hook} priority 0; policy accept;\n` +
    `    ${match} icmpv6 type { ${HOUSEKEEPING_ICMPV6.join(', ')} } accept\n` +
    `    ${match} meta l4proto igmp accept\n` +
    `    ${match} numgen random mod 10000 < ${threshold} counter drop\n` +
    `  }\n` +
    `}\n`
  );
}

class PairImpl implements NetPair {
  readonly a: NetNamespace;
  readonly b: NetNamespace;
  readonly subnet: string;
  loss = 0;
  readonly #hook: 'input' | 'output';
  readonly #children = new Set<ChildProcess>();
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(a: NetNamespace, b: NetNamespace, subnet: string, hook: 'input' | 'output') {
    this.a = a;
    this.b = b;
    this.subnet = subnet;
    this.#hook = hook;
  }

  #ns(ns: Side | NetNamespace): NetNamespace {
    return typeof ns === 'string' ? this[ns] : ns;
  }

  async setLoss(percent: number): Promise<void> {
    if (!(Number.isFinite(percent) && percent >= 0 && percent <= 100)) throw new RangeError(`loss must be a percentage from 0 to 100, not ${percent}`);
    if (this.#closed) throw new Error('the namespaces are closed');
    await Promise.all(
      [this.a, this.b].map((ns) => run('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], lossRuleset(this.#hook, ns.iface, percent))),
    );
    this.loss = percent;
  }

  async dropped(): Promise<Record<Side, number>> {
    const count = async (ns: NetNamespace): Promise<number> => {
      if (this.loss === 0) return 0;
      const { stdout } = await run('ip', ['netns', 'exec', ns.name, 'nft', '-j', 'list', 'table', 'inet', TABLE]);
      const json = JSON.parse(stdout) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
      let packets = 0;
      for (const item of json.nftables) for (const expr of item.rule?.expr ?? []) packets += expr.counter?.packets ?? 0;
      return packets;
    };
    const [a, b] = await Promise.all([count(this.a), count(this.b)]);
    return { a, b };
  }

  spawn(ns: Side | NetNamespace, cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.#closed) throw new Error('the namespaces are closed');
    // `ip netns exec` enters the namespace and then execs the program: same PID.
    const child = spawnProcess('ip', ['netns', 'exec', this.#ns(ns).name, cmd, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    child.once('error', () => this.#children.delete(child));
    return child;
  }

  node(ns: Side | NetNamespace, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return this.spawn(ns, process.execPath, ['--import', 'tsx', ...args], options);
  }

  exec(ns: Side | NetNamespace, cmd: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    if (this.#closed) return Promise.reject(new Error('the namespaces are closed'));
    return run('ip', ['netns', 'exec', this.#ns(ns).name, cmd, ...args], undefined, options.timeoutMs);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const exits = [...this.#children].map(
        (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))),
      );
      this.#killAll();
      await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      for (const ns of [this.a, this.b]) {
        try {
          await run('ip', ['netns', 'del', ns.name]);
        } catch (error) {
          if (!/No such file|not found|does not exist/i.test(String(error))) throw error;
        }
      }
      live.delete(this);
    })();
    return this.#closing;
  }

  /** The same, synchronously, for process exit. */
  closeSync(): void {
    this.#closed = true;
    this.#killAll();
    for (const ns of [this.a, this.b]) {
      try {
        execFileSync('ip', ['netns', 'del', ns.name], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
      } catch {
        // gone already
      }
    }
    live.delete(this);
  }

  #killAll(): void {
    for (const child of this.#children) if (child.pid !== undefined) killPid(child.pid);
    // Also anything those started, still inside the namespaces.
    for (const ns of [this.a, this.b]) for (const pid of pidsIn(ns.name)) killPid(pid);
  }
}

/** Builds the two namespaces and the link between them; everything is up when it resolves. */
export async function createNetPair(options: NetPairOptions = {}): Promise<NetPair> {
  requireAll(...NETNS_REQUIREMENTS);
  const mtu = options.mtu ?? 1500;
  if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw new RangeError(`mtu must be from 68 to 65535, not ${mtu}`);
  installExitHooks();
  const net = randomInt(1, 255);
  const made: string[] = [];
  const names = {} as Record<Side, string>;
  try {
    for (const side of ['a', 'b'] as const) {
      // A clash with another run's namespace is unlikely; on one, take another suffix.
      for (let attempt = 0; ; attempt++) {
        const name = `sw-${side}-${randomBytes(3).toString('hex')}`;
        try {
          await run('ip', ['netns', 'add', name]);
          names[side] = name;
          made.push(name);
          break;
        } catch (error) {
          if (attempt >= 4 || !/exists/i.test(String(error))) throw error;
        }
      }
    }
    const ns = (side: Side): NetNamespace => ({
      side,
      name: names[side],
      iface: IFACE[side],
      address: `10.203.${net}.${side === 'a' ? 1 : 2}`,
      ...(options.ipv6 ? { address6: `fd00:5357:${net.toString(16)}::${side === 'a' ? 1 : 2}` } : {}),
    });
    const pair = new PairImpl(ns('a'), ns('b'), `10.203.${net}.0/24`, options.lossHook ?? 'input');
    live.add(pair);
    made.length = 0; // the pair owns them now
    options.cleanup?.after(() => pair.close());
    try {
      await run('ip', ['-n', pair.a.name, 'link', 'add', IFACE.a, 'type', 'veth', 'peer', 'name', IFACE.b, 'netns', pair.b.name]);
      await Promise.all(
        [pair.a, pair.b].map(async (end) => {
          // Without --ipv6 the link carries IPv4 only: no IPv6 housekeeping packets in a capture.
          if (!end.address6) await run('ip', ['netns', 'exec', end.name, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6']);
          const batch = [
            `addr add ${end.address}/24 dev ${end.iface}`,
            ...(end.address6 ? [`addr add ${end.address6}/64 dev ${end.iface} nodad`] : []),
            // One segment per packet: without this TCP hands the veth 64 KB GSO packets, and the
            // loss rule (and a capture) would see a few giant packets instead of wire-sized ones.
            `link set ${end.iface} mtu ${mtu}${options.gso ? '' : ' gso_max_segs 1'}`,
            `link set ${end.iface} up`,
            'link set lo up',
          ].join('\n');
          await run('ip', ['-n', end.name, '-batch', '-'], `${batch}\n`);
        }),
      );
      if (options.tcpRtoMinMs !== undefined) {
        const rto = `${Math.max(1, Math.round(options.tcpRtoMinMs))}ms`;
        await Promise.all(
          [pair.a, pair.b].map((end) =>
            run('ip', ['-n', end.name, 'route', 'change', pair.subnet, 'dev', end.iface, 'proto', 'kernel', 'scope', 'link', 'src', end.address, 'rto_min', rto]),
          ),
        );
      }
      await waitForCarrier(pair);
    } catch (error) {
      await pair.close();
      throw error;
    }
    return pair;
  } catch (error) {
    for (const name of made) await run('ip', ['netns', 'del', name]).catch(() => undefined);
    throw error;
  }
}

/** A veth end is usable once both ends are up; wait (bounded) until both say LOWER_UP. */
async function waitForCarrier(pair: PairImpl): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const states = await Promise.all([pair.a, pair.b].map((end) => run('ip', ['-n', end.name, '-o', 'link', 'show', end.iface])));
    if (states.every((s) => /LOWER_UP/.test(s.stdout))) return;
    if (Date.now() > deadline) throw new Error(`the veth pair did not come up: ${states.map((s) => s.stdout.trim()).join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---- waiting for what a program inside a namespace prints --------------------------------------

export interface Watched {
  readonly child: ChildProcess;
  /** The first stdout line matching `pattern` (printed already or later); fails at the deadline or exit. */
  line(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code when the program ends (rejects after the deadline). */
  exit(timeoutMs?: number): Promise<number | null>;
  /** Everything printed so far, for failure messages. */
  describe(): string;
}

/** Collects a child's output so that a test can await its lines with deadlines. */
export function watch(child: ChildProcess, name = 'program'): Watched {
  let stdout = '';
  let stderr = '';
  let exited: number | null | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    notify();
  });
  child.on('close', (code) => {
    exited = code;
    notify();
  });
  child.on('error', (error) => {
    stderr += `spawn failed: ${error.message}\n`;
    exited = null;
    notify();
  });
  const describe = (): string => `${name} (${exited === undefined ? 'running' : `exited ${exited}`})\n--- stdout ---\n${stdout}--- stderr ---\n${stderr}--- end ---`;
  const until = <T>(what: string, check: () => T | undefined, timeoutMs: number, afterExit: boolean): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`${what}: nothing after ${timeoutMs} ms\n${describe()}`));
      }, timeoutMs);
      const listener = (): void => {
        const value = check();
        if (value === undefined && (exited === undefined || afterExit)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        if (value !== undefined) resolve(value);
        else reject(new Error(`${what}: the program ended first\n${describe()}`));
      };
      listeners.add(listener);
      listener();
    });
  return {
    child,
    line: (pattern, timeoutMs = 20_000) =>
      until(`waiting for a line matching ${pattern}`, () => {
        for (const l of stdout.split('\n').slice(0, -1)) {
          const m = pattern.exec(l);
          if (m) return m;
        }
        return undefined;
      }, timeoutMs, false),
    exit: (timeoutMs = 20_000) => until('waiting for the end', () => (exited === undefined ? undefined : { code: exited }), timeoutMs, true).then((e) => e.code),
    describe,
  };
}

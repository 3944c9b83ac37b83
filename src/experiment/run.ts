// Runs the experiment: for each (transport, batch, loss) a fresh pair of network namespaces joined
// by a veth, the server (`sensorwire server`) on host a, tcpdump on host b's end of the link, the
// loss rule, then one device (`sensorwire device`) on host b until it has sent its readings and
// said BYE. The capture is analyzed with src/analysis, and what the server committed is read
// from its database. Everything a run starts is killed by PID and its namespaces deleted when the
// run ends, also when it fails.
import { mkdtempSync, rmSync, existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { hostname, cpus, release, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeCapture } from '../analysis/overhead.ts';
import { readCaptureFile } from '../analysis/pcap.ts';
import { createNetPair, watch, type NetPair, type Watched } from '../netns/pair.ts';
import { command, root, type Requirement } from '../netns/requirements.ts';
import { DEFAULT_PORT } from '../server/run.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import { startLinkCapture } from './capture.ts';
import type { ExperimentOptions } from './options.ts';
import { negotiatedTcpHeaders } from './tcp-headers.ts';
import type { DeviceFigures, ExperimentData, MachineInfo, RunResult, RunSpec } from './types.ts';

/** What the experiment needs on the machine, each with the Debian package that provides it. */
export const EXPERIMENT_REQUIREMENTS: readonly Requirement[] = [root, command('ip', 'iproute2'), command('ss', 'iproute2'), command('nft', 'nftables'), command('tcpdump')];

export const LINK_MTU = 1500;
const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const PORT = DEFAULT_PORT;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export type ProgressEvent =
  | { readonly kind: 'start'; readonly index: number; readonly total: number; readonly spec: RunSpec }
  | { readonly kind: 'end'; readonly index: number; readonly total: number; readonly result: RunResult };

/** The runs of an experiment, in order: by transport, then batch, then loss. */
export function plannedRuns(o: ExperimentOptions): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const transport of o.transports) {
    for (const batch of o.batch) {
      for (const loss of o.loss) {
        runs.push({ transport, batch, loss, readings: o.readings, intervalMs: o.interval, seed: o.seed, deviceId: runs.length + 1, delivery: o.delivery });
      }
    }
  }
  return runs;
}

export function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    hostname: hostname(),
    os: platform(),
    kernel: release(),
    cpus: `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown'}`,
    node: process.version,
  };
}

/** Runs every planned run in turn and returns what was measured. */
export async function runExperiment(
  o: ExperimentOptions,
  commandLine: string,
  onProgress: (event: ProgressEvent) => void = () => {},
): Promise<ExperimentData> {
  const startedAt = new Date().toISOString();
  const specs = plannedRuns(o);
  const runs: RunResult[] = [];
  const captures = o.keepCaptures ? join(o.out, 'captures') : undefined;
  if (captures !== undefined) mkdirSync(captures, { recursive: true });
  for (const [index, spec] of specs.entries()) {
    onProgress({ kind: 'start', index, total: specs.length, spec });
    const result = await runOne(spec, captures);
    runs.push(result);
    onProgress({ kind: 'end', index, total: specs.length, result });
  }
  return { command: commandLine, startedAt, finishedAt: new Date().toISOString(), machine: machineInfo(), mtu: LINK_MTU, runs };
}

/** How long a device may take: its sampling time, generously, plus time for retransmissions. */
function deviceTimeoutMs(spec: RunSpec): number {
  const rounds = Math.ceil(spec.readings / 9);
  return 60_000 + rounds * spec.intervalMs * 3;
}

/** Waits until no TCP connection on the port is open in either namespace (TIME-WAIT is closed enough). */
async function tcpClosed(pair: NetPair, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(
      [pair.a, pair.b].map((ns) => pair.exec(ns, 'ss', ['-Htan', `( sport = :${PORT} or dport = :${PORT} )`])),
    );
    const open = states.flatMap((s) => s.stdout.split('\n')).filter((l) => l.trim() !== '' && !/^(LISTEN|TIME-WAIT)\s/.test(l));
    if (open.length === 0) return;
    if (performance.now() > deadline) throw new Error(`TCP connections still open after ${timeoutMs} ms: ${open.join(' | ')}`);
    await sleep(50);
  }
}

/** The summary `sensorwire device --json` printed as its last line. */
async function deviceFigures(w: Watched): Promise<DeviceFigures> {
  const [line] = await w.line(/^\{.*\}$/, 1000);
  const json = JSON.parse(line) as {
    durationMs: number;
    readings: { sent: number; acknowledged: number; unacknowledged: number };
    messages: { sent: number; retransmissions: number };
  };
  return {
    sent: json.readings.sent,
    acknowledged: json.readings.acknowledged,
    unacknowledged: json.readings.unacknowledged,
    messagesSent: json.messages.sent,
    retransmissions: json.messages.retransmissions,
    durationMs: json.durationMs,
  };
}

async function storedReadings(db: string, deviceId: number): Promise<number> {
  const store = openSqliteStore(db, { readonly: true });
  try {
    return (await store.totals()).filter((t) => t.device === deviceId).reduce((sum, t) => sum + t.readings, 0);
  } finally {
    await store.close();
  }
}

/** Settings that are not part of a run's spec (benchmarks vary them). */
export interface LinkOptions {
  /** TCP's RTO floor on the link's routes, ms (see NetPairOptions.tcpRtoMinMs). Default: the kernel's. */
  readonly tcpRtoMinMs?: number;
  /** More arguments for `sensorwire device`, e.g. ['--delivery', 'reliable']. */
  readonly deviceArgs?: readonly string[];
}

/** One run in its own namespaces; `keepIn` (a folder) keeps its capture. */
export async function runOne(spec: RunSpec, keepIn?: string, link: LinkOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'sensorwire-experiment-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  let pair: NetPair | undefined;
  try {
    pair = await createNetPair({ mtu: LINK_MTU, ...(link.tcpRtoMinMs !== undefined ? { tcpRtoMinMs: link.tcpRtoMinMs } : {}) });
    const db = join(dir, 'server.db');
    const pcap = join(dir, 'run.pcap');
    const server = watch(
      pair.node('a', [MAIN, 'server', '--host', pair.a.address, '--tcp-port', String(PORT), '--udp-port', String(PORT), '--db', db, '--log-level', 'warn']),
      'sensorwire server',
    );
    await Promise.all([server.line(/^listening tcp /, 30_000), server.line(/^listening udp /, 30_000)]);
    const capture = await startLinkCapture(pair, pair.b, pcap, `port ${PORT}`);
    if (spec.loss > 0) await pair.setLoss(spec.loss);
    const device = watch(
      pair.node('b', [
        MAIN, 'device',
        '--transport', spec.transport,
        '--host', pair.a.address,
        '--port', String(PORT),
        '--id', String(spec.deviceId),
        '--interval', `${spec.intervalMs}ms`,
        '--count', String(spec.readings),
        '--batch', String(spec.batch),
        '--seed', String(spec.seed),
        // Plain UDP never learns of a lost ACK: it waits out its ACK timeout (2 s) at most, and
        // meanwhile a lost HELLO is sent again (every 0.5 s), so its readings do go out.
        '--drain', spec.transport === 'udp' ? '5s' : '20s',
        '--json',
        ...(spec.delivery === 'reliable' ? ['--delivery', 'reliable'] : []),
        ...(link.deviceArgs ?? []),
      ]),
      `sensorwire device --transport ${spec.transport}`,
    );
    const code = await device.exit(deviceTimeoutMs(spec));
    if (code !== 0) throw new Error(`the device exited with ${code}\n${device.describe()}`);
    const figures = await deviceFigures(device);
    if (spec.transport === 'tcp') await tcpClosed(pair, 30_000);
    const captured = await capture.stop({ quietMs: 300 });
    const dropped = await pair.dropped();
    server.child.kill('SIGINT');
    const serverCode = await server.exit(30_000);
    if (serverCode !== 0) throw new Error(`the server exited with ${serverCode}\n${server.describe()}`);
    const stored = await storedReadings(db, spec.deviceId);

    const file = readCaptureFile(pcap);
    const report = analyzeCapture(file, { ports: [PORT], file: 'run.pcap' });
    if (keepIn !== undefined) copyFileSync(pcap, join(keepIn, `${spec.transport}-batch${spec.batch}-loss${spec.loss}.pcap`));
    return {
      spec,
      wallMs: Math.round(performance.now() - started),
      device: figures,
      stored,
      dropped,
      capture: captured,
      measured: report.total,
      seenAs: report.transports[0]?.transport ?? null,
      flows: report.selected.flows,
      tcp: spec.transport === 'tcp' ? negotiatedTcpHeaders(file, PORT) : null,
    };
  } finally {
    await pair?.close();
    removeDir();
    process.off('exit', removeDir);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

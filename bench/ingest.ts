// npm run bench — readings per second received, acknowledged and stored by the real server
// (the CLI, SQLite in WAL mode) over TCP and UDP, for 1 and 100 devices and batches of 1 and 10;
// and, in the same run, the same bytes through a bare socket server that neither decodes nor
// stores, with the ratio of the two. Each server runs in a child process of its own.
// BENCH_BASELINE=DIR also runs the server of another checkout (DIR, with its node_modules) in the
// same run, between the two, for a before/after comparison under the same load of the machine.
// BENCH_ONLY=tcp/1/1,udp/100/10 runs only those cases (transport/devices/batch).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeFrame } from '../src/protocol/index.ts';
import { readingsMessage, runLoad } from './load.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WINDOW = 64;
const BASELINE = process.env.BENCH_BASELINE;
const ONLY = process.env.BENCH_ONLY?.split(',');

interface Started {
  readonly child: ChildProcess;
  readonly tcp: number;
  readonly udp: number;
}

async function start(args: string[], cwd?: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd });
  const ports: { tcp?: number; udp?: number } = {};
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 20_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    lines.on('line', (line) => {
      const m = /^listening (tcp|udp) .*:(\d+)$/.exec(line);
      if (m) ports[m[1] as 'tcp' | 'udp'] = Number(m[2]);
      if (ports.tcp && ports.udp) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, tcp: ports.tcp!, udp: ports.udp! };
}

async function stop(s: Started): Promise<void> {
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGTERM');
  await exited;
}

const dir = mkdtempSync(join(tmpdir(), 'sensorwire-bench-'));
const rows: string[][] = [];
const results = new Map<string, number>();
const baselines = new Map<string, number>();
try {
  let run = 0;
  for (const transport of ['tcp', 'udp'] as const) {
    for (const devices of [1, 100]) {
      for (const batch of [1, 10]) {
        if (ONLY !== undefined && !ONLY.includes(`${transport}/${devices}/${batch}`)) continue;
        const size = encodeFrame(readingsMessage(1, 1000, batch)).length;
        const figures = new Map<string, number>();
        const kinds = BASELINE === undefined ? ['sensorwire', 'bare'] : ['sensorwire', 'baseline', 'bare'];
        for (const kind of kinds) {
          const serverArgs = ['src/cli/main.ts', 'server', '--tcp-port', '0', '--udp-port', '0', '--db', join(dir, `bench-${run++}.db`), '--log-level', 'error', '--max-connections', '1000'];
          const server = kind === 'sensorwire'
            ? await start(serverArgs)
            : kind === 'baseline' ? await start(serverArgs, BASELINE) : await start(['bench/bare-server.ts', String(size)]);
          try {
            const r = await runLoad({ transport, port: server[transport], devices, batch, window: WINDOW, seconds: SECONDS, firstId: 1 });
            figures.set(kind, r.readings / r.seconds);
          } finally {
            await stop(server);
          }
        }
        const real = figures.get('sensorwire') ?? 0;
        const bare = figures.get('bare') ?? 0;
        const baseline = figures.get('baseline');
        results.set(`${transport}/${devices}/${batch}`, real);
        if (baseline !== undefined) baselines.set(`${transport}/${devices}/${batch}`, baseline);
        const round = (x: number): string => Math.round(x).toLocaleString('en');
        const pct = (x: number): string => `${((x / bare) * 100).toFixed(0)}%`;
        rows.push([
          transport, String(devices), String(batch), round(real), round(bare), pct(real),
          ...(baseline === undefined ? [] : [round(baseline), pct(baseline)]),
        ]);
        process.stderr.write(`  ${transport} ${devices} device(s) batch ${batch}: ${Math.round(real)}${baseline === undefined ? '' : ` (baseline ${Math.round(baseline)})`} vs ${Math.round(bare)} readings/s\n`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const header = [
  'transport', 'devices', 'batch', 'sensorwire readings/s', 'bare socket readings/s', 'sensorwire / bare',
  ...(BASELINE === undefined ? [] : ['baseline readings/s', 'baseline / bare']),
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${SECONDS} s per figure, window ${WINDOW} messages per device`);
console.log(`| ${header.map((h, i) => h.padEnd(widths[i]!)).join(' | ')} |`);
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(`| ${r.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`);
for (const transport of ['tcp', 'udp']) {
  for (const devices of [1, 100]) {
    const one = results.get(`${transport}/${devices}/1`) ?? 0;
    const ten = results.get(`${transport}/${devices}/10`) ?? 0;
    const before = BASELINE === undefined ? '' : ` (baseline ${((baselines.get(`${transport}/${devices}/10`) ?? 0) / (baselines.get(`${transport}/${devices}/1`) ?? 1)).toFixed(1)}×)`;
    console.log(`${transport}, ${devices} device(s): batches of 10 carry ${(ten / one).toFixed(1)}× the readings/s of batches of 1${before}`);
  }
}

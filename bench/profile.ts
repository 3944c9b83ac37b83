// npx tsx bench/profile.ts [tcp|udp] [devices] [batch] — runs the real server (the CLI, SQLite)
// under node --cpu-prof, loads it as `npm run bench` does for BENCH_SECONDS (default 3), and
// prints where the server's CPU time went: self time per function, inclusive time of the
// functions of src/, and both per acknowledged message, counting only the time the load ran. The .cpuprofile is kept (its path
// is printed) for Chrome DevTools or speedscope.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runLoad } from './load.ts';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

const transport = process.argv[2] === 'udp' ? 'udp' : 'tcp';
const devices = Number(process.argv[3] ?? 1);
const batch = Number(process.argv[4] ?? 1);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);

const dir = mkdtempSync(join(tmpdir(), 'sensorwire-profile-'));
const child = spawn(process.execPath, [
  '--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'src/cli/main.ts', 'server',
  '--tcp-port', '0', '--udp-port', '0', '--db', join(dir, 'profile.db'), '--log-level', 'error', '--max-connections', '1000',
], { stdio: ['ignore', 'pipe', 'inherit'] });
const ports: { tcp?: number; udp?: number } = {};
await new Promise<void>((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = /^listening (tcp|udp) .*:(\d+)$/.exec(line);
    if (m) ports[m[1] === 'tcp' ? 'tcp' : 'udp'] = Number(m[2]);
    if (ports.tcp && ports.udp) resolve();
  });
});
// V8 stamps samples with the monotonic clock in µs, as process.hrtime does: only the samples taken
// while the load ran are counted (not the server's start, module loading included).
const from = Number(process.hrtime.bigint() / 1000n);
const load = await runLoad({ transport, port: ports[transport]!, devices, batch, window: 64, seconds, firstId: 1 });
const to = Number(process.hrtime.bigint() / 1000n);
const exited = new Promise((resolve) => child.once('exit', resolve));
child.kill('SIGTERM');
await exited;

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;

// Self time per node, from the samples taken while the load ran.
const self = new Map<number, number>();
let stamp = profile.startTime;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  stamp += delta;
  if (stamp >= from && stamp <= to) self.set(id, (self.get(id) ?? 0) + delta);
});
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const short = (f: CallFrame): string => {
  const file = f.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/').replace(/^node:/, 'node:');
  return `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
};

const selfBy = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
for (const [id, us] of self) {
  const node = byId.get(id)!;
  const name = short(node.callFrame);
  selfBy.set(name, (selfBy.get(name) ?? 0) + us);
  if (node.callFrame.functionName !== '(idle)') busy += us;
  // Inclusive time of every src/ function on the stack, each counted once per sample.
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (!frame.url.includes('/src/')) continue;
    const key = short(frame);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}

const perMessage = (us: number): string => (us / Math.max(load.messages, 1)).toFixed(2);
console.log(`${transport}, ${devices} device(s), batch ${batch}: ${load.messages} messages acknowledged in ${load.seconds.toFixed(1)} s ` +
  `(${Math.round(load.messages / load.seconds)}/s); server busy ${(busy / 1e6).toFixed(2)} s of it = ${perMessage(busy)} µs/message`);
console.log(`profile: ${join(dir, file)}\n`);
console.log('self time, top 30                                                      µs/msg   share');
for (const [name, us] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  console.log(`  ${name.slice(0, 68).padEnd(68)} ${perMessage(us).padStart(7)} ${((us / busy) * 100).toFixed(1).padStart(6)}%`);
}
console.log('\ninclusive time, src/ functions                                         µs/msg   share');
for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`  ${name.slice(0, 68).padEnd(68)} ${perMessage(us).padStart(7)} ${((us / busy) * 100).toFixed(1).padStart(6)}%`);
}

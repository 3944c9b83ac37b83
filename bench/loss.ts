// npm run bench:loss — rudp against TCP under kernel packet loss. For each loss rate (0, 5 and
// 20 % of packets dropped in each direction by nftables, on a veth between two network
// namespaces) one device sends 1,000 readings over each transport to the real server; the run is
// captured with tcpdump on the link. Printed side by side: readings delivered (committed by the
// server), time to deliver them (the device's run, HELLO to the ACK of its BYE), and bytes on
// the wire in both directions (every frame of the capture, retransmissions included). Every
// sensor is declared `reliable` (--delivery reliable), so rudp owes every reading, as TCP does.
//
// Two workloads:
//   - periodic: telemetry as a device sends it, a message of 9 readings every 10 ms. Each
//     message is its own TCP segment, as it would be on a real device. The aims apply here.
//   - bulk: 1,000 one-reading messages as fast as the window lets them go. TCP packs several
//     messages into each segment (a byte stream), rudp sends a datagram each: this shows the
//     price of message boundaries, not of reliability.
// TCP runs twice: as Linux ships it (RTO floor 200 ms) and with its RTO floor lowered to rudp's
// own (50 ms, `ip route … rto_min`), so that the comparison also shows what the floor alone buys.
// Needs root, iproute2, nftables and tcpdump (the same as `sensorwire experiment`).
//
//   BENCH_READINGS=1000 BENCH_LOSS=0,5,20 BENCH_REPEAT=1 BENCH_WORKLOADS=periodic,bulk npm run bench:loss
import { EXPERIMENT_REQUIREMENTS, runOne } from '../src/experiment/run.ts';
import { MissingRequirementError, missingRequirements } from '../src/netns/requirements.ts';
import type { RunResult } from '../src/experiment/types.ts';

const READINGS = Number(process.env.BENCH_READINGS ?? 1000);
const LOSSES = (process.env.BENCH_LOSS ?? '0,5,20').split(',').map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
const RTO_FLOOR_MS = 50;

interface Workload {
  readonly name: string;
  readonly what: string;
  readonly batch: number;
  readonly intervalMs: number;
}
const WORKLOADS: readonly Workload[] = [
  { name: 'periodic', what: 'a message of 9 readings every 10 ms', batch: 9, intervalMs: 10 },
  { name: 'bulk', what: 'one reading a message, as fast as the window allows', batch: 1, intervalMs: 1 },
].filter((w) => (process.env.BENCH_WORKLOADS ?? 'periodic,bulk').split(',').includes(w.name));

interface Variant {
  readonly label: string;
  readonly transport: 'tcp' | 'rudp';
  readonly tcpRtoMinMs?: number;
}
const VARIANTS: readonly Variant[] = [
  { label: 'tcp', transport: 'tcp' },
  { label: `tcp (rto_min ${RTO_FLOOR_MS} ms)`, transport: 'tcp', tcpRtoMinMs: RTO_FLOOR_MS },
  { label: 'rudp', transport: 'rudp' },
];

interface Figures {
  readonly delivered: number;
  readonly ms: number;
  readonly wireBytes: number;
  readonly frames: number;
  readonly retransmissions: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function figures(r: RunResult): Figures {
  const retransmissions = r.spec.transport === 'tcp' ? r.measured.tcpRetransmissions.frames : r.device.retransmissions;
  return { delivered: r.stored, ms: r.device.durationMs, wireBytes: r.measured.bytes, frames: r.measured.frames, retransmissions };
}

const lacking = missingRequirements(EXPERIMENT_REQUIREMENTS);
if (lacking.length > 0) {
  process.stderr.write(`bench:loss: ${new MissingRequirementError(lacking).message}\n`);
  process.exit(1);
}

let run = 0;
const total = WORKLOADS.length * LOSSES.length * VARIANTS.length * REPEAT;

async function measure(w: Workload): Promise<{ rows: string[][]; aims: string[] }> {
  const rows: string[][] = [];
  const aims: string[] = [];
  for (const loss of LOSSES) {
    const byVariant = new Map<string, Figures>();
    for (const v of VARIANTS) {
      const repeats: Figures[] = [];
      for (let i = 0; i < REPEAT; i++) {
        run++;
        process.stderr.write(`  [${run}/${total}] ${w.name}, ${v.label}, ${loss} % loss … `);
        const result = await runOne(
          { transport: v.transport, batch: w.batch, loss, readings: READINGS, intervalMs: w.intervalMs, seed: 1 + i, deviceId: run },
          undefined,
          { deviceArgs: ['--delivery', 'reliable'], ...(v.tcpRtoMinMs !== undefined ? { tcpRtoMinMs: v.tcpRtoMinMs } : {}) },
        );
        const f = figures(result);
        repeats.push(f);
        process.stderr.write(`${f.delivered} delivered in ${f.ms} ms, ${f.wireBytes} bytes\n`);
      }
      byVariant.set(v.label, {
        delivered: Math.min(...repeats.map((r) => r.delivered)),
        ms: median(repeats.map((r) => r.ms)),
        wireBytes: median(repeats.map((r) => r.wireBytes)),
        frames: median(repeats.map((r) => r.frames)),
        retransmissions: median(repeats.map((r) => r.retransmissions)),
      });
    }
    const tcp = byVariant.get('tcp')!;
    for (const v of VARIANTS) {
      const f = byVariant.get(v.label)!;
      rows.push([
        `${loss} %`, v.label, `${f.delivered} / ${READINGS}`, f.ms.toLocaleString('en'), (f.ms / tcp.ms).toFixed(2),
        f.wireBytes.toLocaleString('en'), (f.wireBytes / tcp.wireBytes).toFixed(2), String(f.frames), String(f.retransmissions),
      ]);
    }
    const rudp = byVariant.get('rudp')!;
    if (loss > 0) {
      const faster = rudp.ms < tcp.ms;
      const lean = rudp.wireBytes <= 1.25 * tcp.wireBytes;
      aims.push(
        `${loss} % loss: rudp ${faster ? 'faster' : 'NOT faster'} than tcp (${rudp.ms} vs ${tcp.ms} ms, ×${(rudp.ms / tcp.ms).toFixed(2)}); ` +
        `wire bytes ×${(rudp.wireBytes / tcp.wireBytes).toFixed(2)} of tcp's (${lean ? 'within' : 'OVER'} 1.25)`,
      );
    }
  }
  return { rows, aims };
}

const header = ['loss', 'transport', 'delivered', 'time ms', '× tcp', 'wire bytes', '× tcp', 'frames', 'retransmissions'];
const results: { w: Workload; rows: string[][]; aims: string[] }[] = [];
for (const w of WORKLOADS) results.push({ w, ...(await measure(w)) });
for (const { w, rows, aims } of results) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${w.name}: ${READINGS} readings, ${w.what}; median of ${REPEAT} run(s); loss in each direction\n\n`);
  process.stdout.write(`${line(header)}\n${widths.map((x) => '-'.repeat(x)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  const label = w.name === 'periodic' ? 'Aims' : 'For comparison (the aims are set for periodic telemetry)';
  process.stdout.write(`\n${label}: rudp faster than tcp, with at most 1.25× its wire bytes:\n${aims.map((a) => `  ${a}`).join('\n')}\n`);
}

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
// Each transport runs BENCH_REPEAT times (10 by default), the variants taking turns. Loss is random
// in the kernel, not seeded, so single runs vary a lot, and the two figures vary differently:
//   - bytes within about ±40 % (a TCP run that stalls in RTO backoff coalesces what waited and
//     sends fewer bytes): compared as means, total over total, the expected cost on the wire, with
//     the lowest and highest ratio of single pairs (repeat i of each) beside;
//   - time with a heavy tail: a handshake lost several times in a row waits out exponential
//     backoff (TCP's SYN from 1 s, rudp's HELLO from 0.5 s), so now and then (a few runs in a
//     hundred at 20 % loss) a run takes 3–15 s against about 1.1 s. Time is compared by its mean,
//     the expected time to deliver, with the median, third quartile and slowest run beside; with
//     such tails ten runs give a rough mean, so pool several invocations before concluding.
// Needs root, iproute2, nftables and tcpdump (the same as `sensorwire experiment`).
//
//   BENCH_READINGS=1000 BENCH_LOSS=0,5,20 BENCH_REPEAT=10 BENCH_WORKLOADS=periodic,bulk npm run bench:loss
import { EXPERIMENT_REQUIREMENTS, runOne } from '../src/experiment/run.ts';
import { MissingRequirementError, missingRequirements } from '../src/netns/requirements.ts';
import type { RunResult } from '../src/experiment/types.ts';

const READINGS = Number(process.env.BENCH_READINGS ?? 1000);
const LOSSES = (process.env.BENCH_LOSS ?? '0,5,20').split(',').map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 10);
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

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const spread = (xs: readonly number[]): string => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
/** The third quartile (the median of the upper half). */
const upperQuartile = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return median(s.slice(Math.floor(s.length / 2)));
};
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

// The variants take turns within each repeat (tcp, tcp with the lower floor, rudp; then again), so
// that a slow spell of the shared machine falls on all of them alike.
async function measure(w: Workload): Promise<{ rows: string[][]; aims: string[] }> {
  const rows: string[][] = [];
  const aims: string[] = [];
  for (const loss of LOSSES) {
    const byVariant = new Map<string, Figures[]>(VARIANTS.map((v) => [v.label, []]));
    for (let i = 0; i < REPEAT; i++) {
      for (const v of VARIANTS) {
        run++;
        process.stderr.write(`  [${run}/${total}] ${w.name}, ${v.label}, ${loss} % loss … `);
        const result = await runOne(
          { transport: v.transport, batch: w.batch, loss, readings: READINGS, intervalMs: w.intervalMs, seed: 1 + i, deviceId: run },
          undefined,
          { deviceArgs: ['--delivery', 'reliable'], ...(v.tcpRtoMinMs !== undefined ? { tcpRtoMinMs: v.tcpRtoMinMs } : {}) },
        );
        const f = figures(result);
        byVariant.get(v.label)!.push(f);
        process.stderr.write(`${f.delivered} delivered in ${f.ms} ms, ${f.wireBytes} bytes\n`);
      }
    }
    const tcp = byVariant.get('tcp')!;
    for (const v of VARIANTS) {
      const runs = byVariant.get(v.label)!;
      const ms = sum(runs.map((r) => r.ms));
      const bytes = sum(runs.map((r) => r.wireBytes));
      const times = runs.map((r) => r.ms);
      rows.push([
        `${loss} %`, v.label, `${Math.min(...runs.map((r) => r.delivered))} / ${READINGS}`,
        Math.round(ms / runs.length).toLocaleString('en'), (ms / sum(tcp.map((r) => r.ms))).toFixed(2),
        median(times).toLocaleString('en'), upperQuartile(times).toLocaleString('en'), Math.max(...times).toLocaleString('en'),
        Math.round(bytes / runs.length).toLocaleString('en'), (bytes / sum(tcp.map((r) => r.wireBytes))).toFixed(2),
        spread(runs.map((r, i) => r.wireBytes / tcp[i]!.wireBytes)),
        String(median(runs.map((r) => r.frames))), String(median(runs.map((r) => r.retransmissions))),
      ]);
    }
    const rudp = byVariant.get('rudp')!;
    if (loss > 0) {
      const msRatio = sum(rudp.map((r) => r.ms)) / sum(tcp.map((r) => r.ms));
      const bytesRatio = sum(rudp.map((r) => r.wireBytes)) / sum(tcp.map((r) => r.wireBytes));
      aims.push(
        `${loss} % loss: rudp ${msRatio < 1 ? 'faster' : 'NOT faster'} than tcp (mean time ×${msRatio.toFixed(2)}); ` +
        `wire bytes ×${bytesRatio.toFixed(2)} of tcp's (${bytesRatio <= 1.25 ? 'within' : 'OVER'} 1.25)`,
      );
    }
  }
  return { rows, aims };
}

const header = ['loss', 'transport', 'delivered', 'mean ms', '× tcp', 'median ms', 'q3 ms', 'slowest ms', 'wire bytes', '× tcp', 'pairs × tcp', 'frames', 'retransmissions'];
const results: { w: Workload; rows: string[][]; aims: string[] }[] = [];
for (const w of WORKLOADS) results.push({ w, ...(await measure(w)) });
for (const { w, rows, aims } of results) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${w.name}: ${READINGS} readings, ${w.what}; ${REPEAT} run(s) each; loss in each direction\n` +
      'time: mean (× tcp: total over total), median, third quartile, slowest run; wire bytes: mean, × tcp as total over\n' +
      'total; pairs × tcp: lowest–highest byte ratio of single pairs (run i against tcp run i); frames,\n' +
      'retransmissions: medians\n\n');
  process.stdout.write(`${line(header)}\n${widths.map((x) => '-'.repeat(x)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  const label = w.name === 'periodic' ? 'Aims' : 'For comparison (the aims are set for periodic telemetry)';
  process.stdout.write(`\n${label}: rudp faster than tcp, with at most 1.25× its wire bytes:\n${aims.map((a) => `  ${a}`).join('\n')}\n`);
}

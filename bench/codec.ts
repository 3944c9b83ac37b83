// npm run bench:codec — encode and decode rates of READINGS messages with 1 and 10 readings,
// beside JSON.stringify / JSON.parse of the same readings, measured in the same run.
import { decode, encode, messageFromJson, type Message } from '../src/protocol/index.ts';
import { validVectors } from '../test/vectors/index.ts';

const NAMES: Record<number, string> = {
  1: 'temperature', 2: 'humidity', 3: 'pressure', 4: 'battery', 5: 'rssi', 6: 'door', 7: 'position', 8: 'uptime', 9: 'status',
};

/** The JSON an application would send for the same readings (PROTOCOL.md §12.2). */
function asJson(m: Message): unknown {
  if (m.type !== 'READINGS') throw new Error('READINGS only');
  return {
    device: m.deviceId, seq: m.seq, ts: m.baseTime,
    readings: m.readings.map((r) => ({ sensor: NAMES[r.sensor] ?? String(r.sensor), dt: r.delta, value: r.value })),
  };
}

/** Runs fn repeatedly for about `ms` milliseconds; returns operations per second. */
function rate(fn: () => unknown, ms = Number(process.env.BENCH_MS ?? 1000)): number {
  for (let i = 0; i < 20_000; i++) fn(); // warm up the JIT
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

let sink = 0;
const rows: string[][] = [];
for (const name of ['readings-one-float32', 'readings-batch-10-mixed']) {
  const vector = validVectors.find((v) => v.name === name);
  if (!vector) throw new Error(`vector ${name} is missing`);
  const message = messageFromJson(vector.message);
  if (message.type !== 'READINGS') throw new Error(`${name} is not READINGS`);
  const n = message.readings.length;
  const bytes = encode(message);
  const json = JSON.stringify(asJson(message));
  const jsonBytes = Buffer.byteLength(json);

  const enc = rate(() => (sink += encode(message).length));
  const dec = rate(() => (sink += decode(bytes).seq));
  const jenc = rate(() => (sink += JSON.stringify(asJson(message)).length));
  const jdec = rate(() => (sink += (JSON.parse(json) as { seq: number }).seq));
  const nsPerReading = (r: number): string => (1e9 / r / n).toFixed(0);
  rows.push(
    [`sensorwire, ${n} reading${n > 1 ? 's' : ''}`, fmt(enc), fmt(dec), nsPerReading(dec), String(bytes.length), (bytes.length / n).toFixed(1)],
    [`JSON, ${n} reading${n > 1 ? 's' : ''}`, fmt(jenc), fmt(jdec), nsPerReading(jdec), String(jsonBytes), (jsonBytes / n).toFixed(1)],
    [`ratio sensorwire / JSON`, `${(enc / jenc).toFixed(1)}×`, `${(dec / jdec).toFixed(1)}×`, '', `${(bytes.length / jsonBytes).toFixed(2)}×`, ''],
  );
}

function fmt(r: number): string {
  return `${(r / 1e6).toFixed(2)} M/s`;
}

const header = ['message', 'encode', 'decode', 'decode ns/reading', 'bytes', 'bytes/reading'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(`node ${process.version}, ${process.arch}; ${process.env.BENCH_MS ?? 1000} ms per figure`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
if (sink === 42) console.log(''); // keep the work observable

// `sensorwire fleet`: many simulated devices in one process, with a progress line.
import { setMaxListeners } from 'node:events';
import { Command } from '@commander-js/extra-typings';
import cliProgress from 'cli-progress';
import { Fleet, fleetTotals, type FleetTransport } from '../device/fleet.ts';
import type { DeviceSummary } from '../device/device.ts';
import { DEFAULT_PORT } from '../server/run.ts';
import { tcp, udp } from '../transport/index.ts';
import { formatTable } from './table.ts';
import { parseDuration, parseInteger, parseRemotePort } from './parse.ts';

const TRANSPORTS: Record<string, FleetTransport> = { tcp, udp, rudp: { kind: 'rudp', over: udp } };

function parseTransports(text: string): FleetTransport[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in TRANSPORTS));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--transports takes tcp, udp and/or rudp, comma-separated, not "${text}"`);
  return names.map((n) => TRANSPORTS[n]!);
}

export function fleetCommand(): Command {
  return new Command('fleet')
    .description('run many simulated devices in one process, mixing transports')
    .option('--devices <n>', 'how many devices', parseInteger(1, 100_000), 10)
    .option('--transports <list>', 'transports given out in turn, comma-separated: tcp, udp, rudp (reliable UDP, on the UDP port)', 'tcp,udp')
    .option('--first-id <n>', 'id of the first device; the others follow', parseInteger(1, 0xffff_ffff), 1)
    .option('--host <address>', 'server address', '127.0.0.1')
    .option('--tcp-port <port>', 'server TCP port', parseRemotePort, DEFAULT_PORT)
    .option('--udp-port <port>', 'server UDP port', parseRemotePort, DEFAULT_PORT)
    .option('--interval <duration>', 'time between sampling rounds of each device', parseDuration, 1000)
    .option('--count <n>', 'readings per device, then stop', parseInteger(1, Number.MAX_SAFE_INTEGER))
    .option('--duration <duration>', 'stop after this long', parseDuration)
    .option('--batch <k>', 'readings per message', parseInteger(1, 255), 1)
    .option('--seed <n>', 'random seed', parseInteger(0, 0xffff_ffff), 1)
    .option('--json', 'print the summaries as one JSON object')
    .action(async (o) => {
      const transports = parseTransports(o.transports);
      const durationMs = o.duration;
      if (o.count === undefined && durationMs === undefined) throw new Error('give --count or --duration (or both): a fleet must end');
      const lastId = o.firstId + o.devices - 1;
      if (lastId > 0xffff_ffff) throw new Error(`--first-id ${o.firstId} and --devices ${o.devices} give device ids up to ${lastId}, past the largest, 4294967295`);
      const controller = new AbortController();
      // Every device listens to it: no leak warning past ten devices.
      setMaxListeners(0, controller.signal);
      const onSignal = (): void => controller.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const fleet = new Fleet({
        devices: o.devices,
        firstId: o.firstId,
        transports,
        ports: { tcp: o.tcpPort, udp: o.udpPort, rudp: o.udpPort },
        host: o.host,
        intervalMs: o.interval,
        batch: o.batch,
        seed: o.seed,
        ...(o.count !== undefined ? { count: o.count } : {}),
        signal: controller.signal,
      });
      const total = o.count !== undefined ? o.count * o.devices : 0;
      const bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          noTTYOutput: true,
          notTTYSchedule: 1000,
          format: total > 0
            ? 'fleet [{bar}] {percentage}% | {value}/{total} readings acknowledged | {generated} generated | {elapsed}s'
            : 'fleet {elapsed}s | {generated} readings generated | {value} acknowledged',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      const started = Date.now();
      bar.start(Math.max(total, 1), 0, { generated: 0, elapsed: 0 });
      const ticker = setInterval(() => {
        const p = fleet.progress();
        bar.update(p.acknowledged, { generated: p.generated, elapsed: Math.round((Date.now() - started) / 1000) });
      }, 250);
      const timer = durationMs !== undefined ? setTimeout(() => controller.abort(), durationMs) : undefined;
      let summaries: DeviceSummary[];
      try {
        summaries = await fleet.run();
      } finally {
        clearInterval(ticker);
        clearTimeout(timer);
        const p = fleet.progress();
        bar.update(p.acknowledged, { generated: p.generated, elapsed: Math.round((Date.now() - started) / 1000) });
        bar.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const totals = fleetTotals(summaries);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ totals, devices: summaries })}\n`);
        return;
      }
      const byTransport = new Map<string, DeviceSummary[]>();
      for (const s of summaries) byTransport.set(s.transport, [...(byTransport.get(s.transport) ?? []), s]);
      const rows = [...byTransport].map(([name, list]) => {
        const t = fleetTotals(list);
        return [name, t.devices, t.generated, t.acknowledged, t.unacknowledged, t.bytesSent];
      });
      rows.push(['all', totals.devices, totals.generated, totals.acknowledged, totals.unacknowledged, totals.bytesSent]);
      process.stdout.write(`${formatTable(['transport', 'devices', 'generated', 'acknowledged', 'unacknowledged', 'bytes sent'], rows)}\n`);
    });
}

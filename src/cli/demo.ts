// `sensorwire demo` (what `npm start` runs): a server on the embedded database and a handful of
// simulated devices over TCP and UDP, a live line every second, then the stored totals.
import { setMaxListeners } from 'node:events';
import { Command } from '@commander-js/extra-typings';
import { Fleet } from '../device/fleet.ts';
import { createLogger, type LogLevel } from '../log.ts';
import { batteryPolicy } from '../server/policy.ts';
import { startServer } from '../server/run.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import { tcp, udp } from '../transport/index.ts';
import { formatAddress } from '../transport/types.ts';
import { describeEvent } from './device-output.ts';
import { logLevelOption } from './options.ts';
import { parseDuration, parseInteger } from './parse.ts';
import { formatTable } from './table.ts';

export function demoCommand(): Command {
  return new Command('demo')
    .description('run a server on SQLite and simulated devices over TCP and UDP for a while, then print what was stored')
    .option('--db <file>', 'SQLite database file', './sensorwire.db')
    .option('--duration <duration>', 'how long the devices run', parseDuration, 20_000)
    .option('--devices <n>', 'simulated devices, half over TCP and half over UDP', parseInteger(1, 1000), 6)
    .option('--interval <duration>', 'time between sampling rounds', parseDuration, 500)
    .option('--batch <k>', 'readings per message', parseInteger(1, 255), 9)
    .addOption(logLevelOption().default('warn' as LogLevel))
    .action(async (o) => {
      const log = createLogger(o.logLevel);
      const store = openSqliteStore(o.db);
      const server = await startServer({
        host: '127.0.0.1', tcpPort: 0, udpPort: 0, store, log,
        // The first device starts with a nearly flat battery, so the CONFIG rule fires.
        policy: batteryPolicy({ thresholdMv: 3300, intervalMs: 2000, disable: ['position'] }),
      });
      // Ctrl-C from here on ends the run early (handled before the first line, which may prompt it).
      const controller = new AbortController();
      // Every device listens to it: no leak warning past ten devices.
      setMaxListeners(0, controller.signal);
      const onSignal = (): void => controller.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const out = (line: string): boolean => process.stdout.write(`${line}\n`);
      out(`sensorwire demo: server on tcp ${formatAddress(server.tcp.host, server.tcp.port)} and udp ${formatAddress(server.udp.host, server.udp.port)}, database ${o.db}`);
      out(`${o.devices} devices (tcp and udp in turn), a sampling round every ${o.interval} ms, ${o.batch} readings per message, for ${o.duration / 1000} s`);
      const firstId = 1;
      const fleet = new Fleet({
        devices: o.devices,
        firstId,
        transports: [tcp, udp],
        ports: { tcp: server.tcp.port, udp: server.udp.port },
        host: '127.0.0.1',
        intervalMs: o.interval,
        batch: o.batch,
        drainMs: 3000,
        signal: controller.signal,
        simulationFor: (i) => (i === 0 ? { batteryStartMv: 3302, batteryDrainMv: 0.5 } : undefined),
        onEvent: (id, e) => {
          if (e.kind === 'config' || e.kind === 'error') out(`  device ${id}: ${describeEvent(e)}`);
        },
      });
      const started = Date.now();
      const ticker = setInterval(() => {
        const s = server.ingest.stats;
        const stored = s.tcp.readingsStored + s.udp.readingsStored;
        const seconds = Math.round((Date.now() - started) / 1000);
        out(`[${String(seconds).padStart(3)} s] stored ${stored} readings (tcp ${s.tcp.readingsStored}, udp ${s.udp.readingsStored}) in ${server.ingest.transactions} transactions; ` +
          `${s.tcp.bytesIn + s.udp.bytesIn} bytes in, ${s.tcp.bytesOut + s.udp.bytesOut} out; refused ${s.tcp.refused + s.udp.refused}`);
      }, 1000);
      const timer = setTimeout(() => controller.abort(), o.duration);
      try {
        const summaries = await fleet.run();
        await server.ingest.drain();
        const totals = await store.totals();
        out('\nstored per device and transport:');
        out(formatTable(
          ['device', 'transport', 'messages', 'readings', 'device: sent', 'acknowledged', 'unacknowledged'],
          totals.map((t) => {
            const s = summaries.find((x) => x.device === t.device);
            return [t.device, t.transport, t.messages, t.readings, s?.readings.sent ?? '', s?.readings.acknowledged ?? '', s?.readings.unacknowledged ?? ''];
          }),
        ));
        const sum = (tr: string): number => totals.filter((t) => t.transport === tr).reduce((n, t) => n + t.readings, 0);
        out(`\ntotal: ${sum('tcp') + sum('udp')} readings stored (tcp ${sum('tcp')}, udp ${sum('udp')}); read them with: npx sensorwire readings --db ${o.db}`);
      } finally {
        clearInterval(ticker);
        clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await server.close();
      }
    });
}

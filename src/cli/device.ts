// `sensorwire device`: one simulated device.
import { Command, Option } from '@commander-js/extra-typings';
import { SimulatedDevice } from '../device/device.ts';
import { createRandom } from '../device/random.ts';
import { simulatedSensors } from '../device/sensors.ts';
import type { DeliveryClassName } from '../protocol/index.ts';
import { DEFAULT_PORT } from '../server/run.ts';
import { tcp, udp } from '../transport/index.ts';
import { describeEvent, describeSummary } from './device-output.ts';
import { parseKey } from './options.ts';
import { parseDuration, parseInteger, parseRemotePort } from './parse.ts';

/** The same delivery class for each of the simulated sensors. */
function everySensor(delivery: DeliveryClassName): Record<string, DeliveryClassName> {
  return Object.fromEntries(simulatedSensors(createRandom(0)).map((sensor) => [sensor.spec.name, delivery]));
}

export function deviceCommand(): Command {
  return new Command('device')
    .description('run one simulated device: HELLO, periodic READINGS of its nine sensors, BYE at the end or on Ctrl-C')
    .addOption(
      new Option('--transport <name>', 'tcp; udp (unacknowledged readings are lost); or rudp, reliable UDP: every message resent until acknowledged, in order (PROTOCOL.md §7)')
        .choices(['tcp', 'udp', 'rudp'] as const)
        .default('tcp' as const),
    )
    .option('--host <address>', 'server address', '127.0.0.1')
    .option('--port <port>', 'server port', parseRemotePort, DEFAULT_PORT)
    .option('--id <n>', 'device id', parseInteger(1, 0xffff_ffff), 1)
    .option('--interval <duration>', 'time between sampling rounds (each round reads every enabled sensor), e.g. 10ms, 2s', parseDuration, 1000)
    .option('--count <n>', 'stop after this many readings', parseInteger(1, Number.MAX_SAFE_INTEGER))
    .option('--batch <k>', 'readings per message', parseInteger(1, 255), 1)
    .option('--seed <n>', 'random seed for the readings (default: the device id)', parseInteger(0, 0xffff_ffff))
    .option('--key <hex>', 'pre-shared key: sign every message (HMAC-SHA-256 tag)', parseKey)
    .option('--battery-start <mV>', 'simulated battery voltage at start', parseInteger(2500, 4300), 4100)
    .addOption(
      new Option('--delivery <class>', 'rudp delivery class of every sensor (PROTOCOL.md §7.7); default: door and status reliable, telemetry latest')
        .choices(['reliable', 'latest'] as const),
    )
    .option('--drain <duration>', 'at the end, wait this long for outstanding acknowledgements', parseDuration, 10_000)
    .option('--json', 'print only the summary, as one JSON object')
    .option('--quiet', 'print only the summary')
    .action(async (o) => {
      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = (): void => {
        if (++interrupts > 1) process.exit(130);
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const quiet = o.json === true || o.quiet === true;
      const device = new SimulatedDevice({
        id: o.id,
        transport: o.transport === 'tcp' ? tcp : udp,
        reliable: o.transport === 'rudp',
        host: o.host,
        port: o.port,
        intervalMs: o.interval,
        batch: o.batch,
        ...(o.count !== undefined ? { count: o.count } : {}),
        seed: o.seed ?? o.id,
        ...(o.key ? { key: o.key } : {}),
        drainMs: o.drain,
        simulation: { batteryStartMv: o.batteryStart, ...(o.delivery ? { delivery: everySensor(o.delivery) } : {}) },
        signal: controller.signal,
        ...(quiet ? {} : { onEvent: (e) => process.stdout.write(`${describeEvent(e)}\n`) }),
      });
      const summary = await device.run();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : `${describeSummary(summary)}\n`);
    });
}

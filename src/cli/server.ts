// `sensorwire server`: the ingest server on TCP and UDP, one process or N cluster workers.
import cluster from 'node:cluster';
import { Command, Option } from '@commander-js/extra-typings';
import { createLogger, type LogLevel, type Logger } from '../log.ts';
import { batteryPolicy } from '../server/policy.ts';
import { DEFAULT_PORT, startServer, type RunningServer } from '../server/run.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import { formatAddress } from '../transport/types.ts';
import { logLevelOption, readKeysFile } from './options.ts';
import { parseDuration, parseInteger, parsePort } from './parse.ts';

export interface ServerCommandOptions {
  readonly host: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly db: string;
  readonly workers: number;
  readonly maxConnections?: number;
  readonly idleTimeout: number;
  readonly keys?: string;
  readonly batteryThreshold: number;
  readonly batteryInterval: number;
  readonly batteryDisable: string[];
  readonly logLevel: LogLevel;
}

export function serverCommand(): Command {
  return new Command('server')
    .description('receive readings over TCP and UDP, store them, and answer every device')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--tcp-port <port>', 'TCP port (0 = any free port)', parsePort, DEFAULT_PORT)
    .option('--udp-port <port>', 'UDP port (0 = any free port)', parsePort, DEFAULT_PORT)
    .option('--db <file>', 'SQLite database file', './sensorwire.db')
    .option('--workers <n>', 'worker processes sharing the ports (node:cluster)', parseInteger(1, 64), 1)
    .option('--max-connections <n>', 'TCP connections at most (per worker); more get ERROR BUSY', parseInteger(1, 1_000_000))
    .option('--idle-timeout <duration>', 'close TCP connections silent for this long (0 = never)', parseDuration, 60_000)
    .option('--keys <file>', 'JSON file {"<device id>": "<hex key>", …}: require a valid authentication tag on every message')
    .option('--battery-threshold <mV>', 'a battery reading below this sends the device a CONFIG', parseInteger(0, 65535), 3300)
    .option('--battery-interval <duration>', 'the sampling interval that CONFIG sets', parseDuration, 10_000)
    .addOption(new Option('--battery-disable <names>', 'sensors that CONFIG also switches off, comma-separated').argParser((v) => v.split(',').map((s) => s.trim()).filter(Boolean)).default([] as string[]))
    .addOption(logLevelOption())
    .action(async (options) => {
      await runServerCommand(options);
    });
}

export async function runServerCommand(options: ServerCommandOptions): Promise<void> {
  const log = createLogger(options.logLevel);
  const keys = options.keys ? readKeysFile(options.keys) : undefined;
  if (options.workers > 1 && cluster.isPrimary) return runPrimary(options, log);
  try {
    await serve(options, log, keys);
  } finally {
    // A worker's channel to the primary would keep it running, also when it could not start: let
    // go of it, so that it exits (and the primary sees that).
    cluster.worker?.disconnect();
  }
}

/** One server (the only one, or a cluster worker's) until SIGINT or SIGTERM. */
async function serve(options: ServerCommandOptions, log: Logger, keys: Map<number, Uint8Array> | undefined): Promise<void> {
  const store = openSqliteStore(options.db);
  let server: RunningServer;
  try {
    server = await startServer({
      host: options.host,
      tcpPort: options.tcpPort,
      udpPort: options.udpPort,
      store,
      log,
      ...(keys ? { keys } : {}),
      policy: batteryPolicy({ thresholdMv: options.batteryThreshold, intervalMs: options.batteryInterval, disable: options.batteryDisable }),
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      idleTimeoutMs: options.idleTimeout,
      sharedStore: cluster.isWorker,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  // Handle signals before saying that it listens: whoever waits for that may signal at once.
  const signalled = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      // After the first signal, a second Ctrl-C ends a single process at once. A worker stays deaf
      // instead: Ctrl-C in a terminal reaches it and the primary, which then sends SIGTERM too.
      if (!cluster.isWorker) {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      log.info({ event: 'stopping', signal }, 'finishing what is in flight');
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const tcpAddress = formatAddress(server.tcp.host, server.tcp.port);
  const udpAddress = formatAddress(server.udp.host, server.udp.port);
  if (cluster.isWorker) {
    process.send?.({ listening: { tcp: tcpAddress, udp: udpAddress } });
  } else {
    process.stdout.write(`listening tcp ${tcpAddress}\nlistening udp ${udpAddress}\n`);
  }
  log.info({ event: 'listening', tcp: tcpAddress, udp: udpAddress, db: options.db, auth: keys !== undefined }, 'server started');
  await signalled;
  await server.close();
  log.info({ event: 'stopped', stats: server.ingest.stats }, 'server stopped');
  log.flush();
}

/** The cluster primary: forks the workers, prints their addresses once, restarts crashed ones. */
async function runPrimary(options: ServerCommandOptions, log: Logger): Promise<void> {
  let stopping = false;
  let announced = false;
  let failed = false;
  let stop = (): void => {};
  const fork = (): void => {
    const worker = cluster.fork();
    let listening = false;
    worker.on('message', (message: { listening?: { tcp: string; udp: string } }) => {
      if (!message.listening) return;
      listening = true;
      if (!announced) {
        announced = true;
        process.stdout.write(`listening tcp ${message.listening.tcp}\nlistening udp ${message.listening.udp}\n`);
      }
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      if (!listening) {
        // It could not start (it has said why, e.g. a port in use): another would fail the same way.
        log.error({ event: 'worker-failed', worker: worker.process.pid, code, signal }, 'a worker could not start; stopping');
        failed = true;
        stop();
        return;
      }
      log.error({ event: 'worker-exit', worker: worker.process.pid, code, signal }, 'a worker died; starting another');
      setTimeout(fork, 500).unref();
    });
  };
  for (let i = 0; i < options.workers; i++) fork();
  log.info({ event: 'primary', workers: options.workers }, 'cluster started');
  await new Promise<void>((resolve) => {
    stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      stopping = true;
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  await Promise.all(
    workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', () => resolve());
      w.process.kill('SIGTERM');
    })),
  );
  log.info({ event: 'stopped' }, 'cluster stopped');
  log.flush();
  if (failed) process.exitCode = 1;
}

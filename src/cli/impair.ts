// `sensorwire impair`: a UDP relay between devices and a server that drops, duplicates, reorders
// and delays datagrams both ways, reproducibly from --seed, and says what it did.
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import type { Direction, Impairment } from '../impair/decisions.ts';
import { startRelay, type Relay } from '../impair/relay.ts';
import { statsLine, summaryText } from '../impair/stats.ts';
import { formatAddress } from '../transport/types.ts';
import { parseDuration, parseInteger, parsePort } from './parse.ts';

/** A probability: a number from 0 to 1. */
export function parseProbability(text: string): number {
  const p = Number(text);
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) || !(p >= 0 && p <= 1)) {
    throw new InvalidArgumentError(`"${text}" is not a probability: use a number from 0 to 1, e.g. 0.2`);
  }
  return p;
}

/** "HOST:PORT" or "[IPv6]:PORT" with a port from 1 to 65535. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text.trim()) ?? /^([^:\s[\]]+):(\d+)$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`"${text}" is not HOST:PORT with a port from 1 to 65535: use e.g. 127.0.0.1:4000 or [::1]:4000`);
  }
  return { host: m[1], port };
}

function describeSettings(s: Impairment): string {
  const jitter = s.jitterMs > 0 ? ` ± ${s.jitterMs} ms` : '';
  return `loss ${s.loss}, duplicate ${s.duplicate}, reorder ${s.reorder}, delay ${s.delayMs} ms${jitter}`;
}

/** Only the settings given, so that unset per-direction options fall back to the shared ones. */
function given(values: Partial<Record<keyof Impairment, number | undefined>>): Partial<Impairment> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<Impairment>;
}

export function impairCommand(): Command {
  const command = new Command('impair')
    .description('relay UDP between devices and a server, dropping, duplicating, reordering and delaying datagrams both ways (reproducible from --seed)')
    .requiredOption('--listen <port>', 'UDP port to listen on for devices (0 = any free port)', parsePort)
    .requiredOption('--forward <host:port>', 'the server to relay to, e.g. 127.0.0.1:4000', parseHostPort)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--loss <p>', 'probability of dropping a datagram (0..1), both ways', parseProbability, 0)
    .option('--duplicate <p>', 'probability of sending a datagram twice (0..1), both ways', parseProbability, 0)
    .option('--reorder <p>', 'probability of holding a datagram back until a later one has passed (0..1), both ways', parseProbability, 0)
    .option('--delay <duration>', 'delay added to every datagram, both ways, e.g. 20ms', parseDuration, 0)
    .option('--jitter <duration>', 'the delay varies uniformly by up to this much either way (order is kept: only --reorder reorders)', parseDuration, 0)
    .option('--loss-up <p>', 'loss for device → server only', parseProbability)
    .option('--loss-down <p>', 'loss for server → device only', parseProbability)
    .option('--duplicate-up <p>', 'duplication for device → server only', parseProbability)
    .option('--duplicate-down <p>', 'duplication for server → device only', parseProbability)
    .option('--reorder-up <p>', 'reordering for device → server only', parseProbability)
    .option('--reorder-down <p>', 'reordering for server → device only', parseProbability)
    .option('--delay-up <duration>', 'delay for device → server only', parseDuration)
    .option('--delay-down <duration>', 'delay for server → device only', parseDuration)
    .option('--jitter-up <duration>', 'jitter for device → server only', parseDuration)
    .option('--jitter-down <duration>', 'jitter for server → device only', parseDuration)
    .addOption(new Option('--reorder-hold <duration>', 'longest a datagram chosen for reordering waits for a later one').argParser(parseDuration).default(50, '50ms'))
    .option('--seed <n>', 'seed for every decision (default: a random one, printed at the start)', parseInteger(0, 0xffff_ffff))
    .option('--max-queued <n>', 'datagrams delayed or held at once; more are dropped as overflow', parseInteger(1, 1_000_000), 1024)
    .option('--max-clients <n>', 'device addresses at once; a new one evicts the least recently active', parseInteger(1, 1_000_000), 1024)
    .addOption(new Option('--idle-timeout <duration>', 'forget a device silent this long (0 = never)').argParser(parseDuration).default(60_000, '60s'))
    .addOption(new Option('--stats-interval <duration>', 'print a line of counters to stderr this often (0 = never)').argParser(parseDuration).default(1000, '1s'))
    .option('--json', 'print the final counters as one JSON object (the last line on stdout) instead of the summary');
  return command.action(async (o) => {
    const seed = o.seed ?? randomInt(0, 0xffff_ffff);
    const shared = { loss: o.loss, duplicate: o.duplicate, reorder: o.reorder, delayMs: o.delay, jitterMs: o.jitter };
    const relay = await startRelay({
      host: o.host,
      port: o.listen,
      forwardHost: o.forward.host,
      forwardPort: o.forward.port,
      seed,
      impairment: shared,
      up: given({ loss: o.lossUp, duplicate: o.duplicateUp, reorder: o.reorderUp, delayMs: o.delayUp, jitterMs: o.jitterUp }),
      down: given({ loss: o.lossDown, duplicate: o.duplicateDown, reorder: o.reorderDown, delayMs: o.delayDown, jitterMs: o.jitterDown }),
      reorderHoldMs: o.reorderHold,
      maxQueued: o.maxQueued,
      maxClients: o.maxClients,
      idleTimeoutMs: o.idleTimeout,
    });
    const started = performance.now();
    process.stdout.write(
      `listening udp ${formatAddress(relay.host, relay.port)}\n` +
        `forwarding to ${formatAddress(relay.forward.host, relay.forward.port)}\n` +
        `seed ${seed}; up: ${describeSettings(relay.settings.up)}; down: ${describeSettings(relay.settings.down)}\n`,
    );
    const ticker = o.statsInterval > 0 ? setInterval(() => process.stderr.write(`${statsLine(relay.stats, performance.now() - started)}\n`), o.statsInterval) : undefined;
    await untilSignal();
    clearInterval(ticker);
    await relay.close();
    process.stdout.write(`${o.json ? JSON.stringify(finalReport(relay, seed, performance.now() - started)) : summaryText(relay.stats, performance.now() - started, seed)}\n`);
  });
}

/** Resolves on the first SIGINT or SIGTERM; a second one ends the process at once. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    let count = 0;
    const onSignal = (): void => {
      if (++count > 1) process.exit(130);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function finalReport(relay: Relay, seed: number, elapsedMs: number): Record<string, unknown> {
  const stats = relay.stats;
  const settings = (d: Direction): Impairment => relay.settings[d];
  return {
    seed,
    elapsedMs: Math.round(elapsedMs),
    listen: formatAddress(relay.host, relay.port),
    forward: formatAddress(relay.forward.host, relay.forward.port),
    settings: { up: settings('up'), down: settings('down') },
    up: stats.up,
    down: stats.down,
    clients: stats.clients,
    errors: stats.errors,
  };
}

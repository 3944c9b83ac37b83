// `sensorwire impair` as a process between a UDP echo server and a client on 127.0.0.1: the start
// lines, the periodic counters on stderr, the summary (or --json) on SIGTERM or SIGINT with exit 0,
// per-direction options, and clear errors for bad options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommanderError } from '@commander-js/extra-typings';
import { impairCommand } from '../../src/cli/impair.ts';
import { run, sensorwire, type Cli, type Cleanup } from '../support/cli.ts';
import { until } from '../support/wait.ts';
import { client, echoServer, numbers, sendAll, type Endpoint } from './support.ts';

/** A cold `--import tsx` start on a busy two-core machine can take many seconds: a generous deadline. */
const START_MS = 60_000;

interface Started {
  readonly cli: Cli;
  readonly port: number;
  readonly server: Endpoint;
  readonly client: Endpoint;
}

async function startImpair(t: Cleanup, args: readonly string[]): Promise<Started> {
  const server = await echoServer(t);
  const cli = sensorwire(t, ['impair', '--listen', '0', '--forward', `127.0.0.1:${server.port}`, ...args]);
  const [listening] = await cli.linesMatching(/^listening udp 127\.0\.0\.1:(\d+)$/, 1, 'stdout', START_MS);
  await cli.line(new RegExp(`^forwarding to 127\\.0\\.0\\.1:${server.port}$`));
  return { cli, port: Number(listening![1]), server, client: await client(t) };
}

interface DirectionJson {
  received: number;
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  queued: number;
  bytesReceived: number;
  bytesForwarded: number;
}

describe('sensorwire impair', () => {
  it('relays both ways, prints counters on stderr, and a summary on SIGTERM with exit 0', async (t) => {
    const { cli, port, server, client: c } = await startImpair(t, ['--seed', '42', '--stats-interval', '100ms']);
    assert.match(cli.stdout, /^seed 42; up: loss 0, duplicate 0, reorder 0, delay 0 ms; down: loss 0, duplicate 0, reorder 0, delay 0 ms$/m);
    await sendAll(c, port, numbers(100));
    await until(() => c.arrivals.length >= 100, '100 echoes', 10_000);
    assert.deepEqual(c.arrivals.map((a) => a.text), numbers(100));
    assert.equal(server.arrivals.length, 100);
    await cli.line(/^\[\d+\.\d s\] up: 100 in 100 out 0 dropped 0 dup 0 reordered 0 queued \| down: 100 in 100 out .*\| clients 1$/, 'stderr');
    cli.signal('SIGTERM');
    const out = await cli.finished(START_MS);
    assert.deepEqual([out.code, out.signal], [0, null], cli.describe());
    assert.match(out.stdout, /^impair summary after \d+\.\d s, seed 42$/m);
    assert.match(out.stdout, /^ {2}up {3}\(client → server\): 100 received, 100 forwarded, 0 dropped, 0 duplicated, 0 reordered, 0 delayed, 190 bytes in, 190 bytes out$/m);
    assert.match(out.stdout, /^ {2}down \(server → client\): 100 received, 100 forwarded, 0 dropped/m);
    assert.match(out.stdout, /^ {2}clients: 1 seen, 0 active, 0 expired, 0 evicted; 0 socket errors$/m);
  });

  it('applies options per direction, and with --json ends with one JSON object (on SIGINT too)', async (t) => {
    const { cli, port, server, client: c } = await startImpair(t, [
      '--seed', '7', '--loss', '0.5', '--loss-down', '0', '--duplicate-down', '1', '--delay-up', '10ms', '--stats-interval', '50ms', '--json',
    ]);
    assert.match(cli.stdout, /^seed 7; up: loss 0\.5, duplicate 0, reorder 0, delay 10 ms; down: loss 0, duplicate 1, reorder 0, delay 0 ms$/m);
    await sendAll(c, port, numbers(400), 5);
    // The relay has had all 400 and every echo of what it passed (its counters say so); each echo
    // comes back twice.
    const [, passed, back] = await cli.line(/ up: 400 in (\d+) out \d+ dropped 0 dup 0 reordered 0 queued \| down: \1 in (\d+) out/, 'stderr');
    await until(() => c.arrivals.length === Number(back), `${back} echoes`, 10_000);
    assert.equal(Number(back), 2 * Number(passed));
    cli.signal('SIGINT');
    const out = await cli.finished(START_MS);
    assert.equal(out.code, 0, cli.describe());
    const lines = out.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, out.stdout);
    const report = JSON.parse(lines[3]!) as { seed: number; forward: string; settings: Record<string, unknown>; up: DirectionJson; down: DirectionJson };
    assert.equal(report.seed, 7);
    assert.equal(report.forward, `127.0.0.1:${server.port}`);
    assert.deepEqual(report.settings.up, { loss: 0.5, duplicate: 0, reorder: 0, delayMs: 10, jitterMs: 0 });
    assert.deepEqual(report.settings.down, { loss: 0, duplicate: 1, reorder: 0, delayMs: 0, jitterMs: 0 });
    assert.equal(report.up.received, 400);
    assert.ok(report.up.dropped > 140 && report.up.dropped < 260, `${report.up.dropped} of 400 dropped`);
    assert.deepEqual([report.up.forwarded, report.up.delayed], [400 - report.up.dropped, 400 - report.up.dropped]);
    assert.equal(server.arrivals.length, report.up.forwarded);
    assert.deepEqual([report.down.received, report.down.dropped, report.down.duplicated, report.down.forwarded], [report.up.forwarded, 0, report.up.forwarded, 2 * report.up.forwarded]);
  });

  it('refuses bad options with a clear error naming the option (parsed in this process)', async () => {
    const cases: [string[], RegExp][] = [
      [['--loss', '1.5'], /--loss <p>.*"1\.5" is not a probability: use a number from 0 to 1/],
      [['--loss', '-0.1'], /--loss <p>.*not a probability/],
      [['--duplicate', 'often'], /--duplicate <p>.*"often" is not a probability/],
      [['--reorder-up', '2'], /--reorder-up <p>.*not a probability/],
      [['--delay', '5parsecs'], /--delay <duration>.*not a duration/],
      [['--jitter-down', '-3ms'], /--jitter-down <duration>.*not a duration/],
      [['--seed', 'abc'], /--seed <n>.*not a whole number/],
      [['--listen', '70000'], /--listen <port>.*not a whole number from 0 to 65535/],
      [['--forward', 'nohost'], /--forward <host:port>.*"nohost" is not HOST:PORT/],
      [['--forward', '127.0.0.1:0'], /--forward <host:port>.*port from 1 to 65535/],
      [['--forward', '127.0.0.1:70000'], /--forward <host:port>.*port from 1 to 65535/],
      [['--max-queued', '0'], /--max-queued <n>.*not a whole number/],
    ];
    const parse = async (args: string[]): Promise<{ code: number; stderr: string }> => {
      let stderr = '';
      const command = impairCommand().exitOverride().configureOutput({ writeErr: (text) => (stderr += text), writeOut: () => {} });
      try {
        await command.parseAsync(args, { from: 'user' });
      } catch (error) {
        if (error instanceof CommanderError) return { code: error.exitCode, stderr };
        throw error;
      }
      return { code: 0, stderr };
    };
    for (const [args, pattern] of cases) {
      const out = await parse(['--listen', '0', '--forward', '127.0.0.1:9', ...args]);
      assert.equal(out.code, 1, args.join(' '));
      assert.match(out.stderr, pattern, args.join(' '));
    }
    assert.match((await parse(['--listen', '0'])).stderr, /required option '--forward <host:port>' not specified/);
    assert.match((await parse(['--forward', '127.0.0.1:9'])).stderr, /required option '--listen <port>' not specified/);
  });

  it('as a process: a bad option, an unknown host: a message, exit 1, nothing on stdout', async (t) => {
    const outs = await Promise.all([
      run(t, ['impair', '--listen', '0', '--forward', '127.0.0.1:9', '--loss', '1.5'], { timeoutMs: START_MS }),
      run(t, ['impair', '--listen', '0', '--forward', 'no-such-host.invalid:9'], { timeoutMs: START_MS }),
    ]);
    const [badLoss, unresolvable] = outs;
    assert.match(badLoss!.stderr, /^error: option '--loss <p>' argument '1\.5' is invalid\. "1\.5" is not a probability/);
    assert.match(unresolvable!.stderr, /^sensorwire: cannot resolve the forward host "no-such-host\.invalid"/);
    for (const out of outs) {
      assert.deepEqual([out.code, out.stdout], [1, '']);
      assert.doesNotMatch(out.stderr, /^\s+at /m, 'a stack trace');
    }
  });
});

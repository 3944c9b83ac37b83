// `sensorwire fleet` run as a process against a spawned server: the table per transport and its
// agreement with what `readings` finds stored, --json, --duration, the progress line on stderr,
// and the options it refuses.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inTurn, jsonLines, run, server, SuiteCleanup, tempDir, type ServerProcess } from '../support/cli.ts';

interface DeviceSummary {
  device: number;
  transport: string;
  readings: { generated: number; acknowledged: number; unacknowledged: number };
  bytes: { sent: number };
}

interface FleetJson {
  totals: { devices: number; generated: number; acknowledged: number; unacknowledged: number; bytesSent: number };
  devices: DeviceSummary[];
}

describe('sensorwire fleet', () => {
  const suite = new SuiteCleanup();
  let srv: ServerProcess;
  before(async () => {
    srv = await server(suite, join(tempDir(suite), 'fleet.db'), ['--log-level', 'warn']);
  });
  after(() => suite.run());

  const ports = (): string[] => ['--tcp-port', String(srv.tcpPort), '--udp-port', String(srv.udpPort)];

  it('prints a table per transport whose totals agree with the stored readings, and progress on stderr', async (t) => {
    const out = await run(t, ['fleet', ...ports(), '--devices', '20', '--transports', 'tcp,udp', '--count', '10', '--interval', '10ms']);
    assert.equal(out.code, 0, out.stderr);

    const lines = out.stdout.split('\n').filter(Boolean);
    assert.deepEqual(lines[0]?.split(/\s{2,}/), ['transport', 'devices', 'generated', 'acknowledged', 'unacknowledged', 'bytes sent']);
    assert.match(lines[1] ?? '', /^-+(\s+-+){5}$/);
    const rows = new Map(lines.slice(2).map((l) => {
      const [name, ...numbers] = l.trim().split(/\s+/);
      return [name, numbers.map(Number)] as const;
    }));
    assert.deepEqual([...rows.keys()], ['tcp', 'udp', 'all']);
    const [tcp, udp, all] = [rows.get('tcp')!, rows.get('udp')!, rows.get('all')!];
    assert.deepEqual(tcp.slice(0, 4), [10, 100, 100, 0]);
    assert.deepEqual(udp.slice(0, 4), [10, 100, 100, 0]);
    assert.deepEqual(all, tcp.map((n, i) => n + udp[i]!), 'the last row adds up the others');
    assert.ok(all[4]! > 0, 'bytes sent');

    // The progress line goes to stderr (not a terminal: at the start and at the end), nothing else.
    const stderr = out.stderr.split('\n').filter(Boolean);
    assert.ok(stderr.length > 0 && stderr.every((l) => l.startsWith('fleet ')), out.stderr);
    assert.match(stderr.at(-1)!, /\b200\/200\b/);

    const stored = await run(t, ['readings', '--db', srv.db, '--format', 'jsonl']);
    assert.equal(stored.code, 0, stored.stderr);
    const readings = jsonLines(stored.stdout).filter((r) => Number(r.device) <= 20);
    assert.equal(readings.length, 200);
    assert.equal(readings.filter((r) => r.transport === 'tcp').length, tcp[2]);
    assert.equal(readings.filter((r) => r.transport === 'udp').length, udp[2]);
  });

  it('with --json prints one object with totals and a summary per device', async (t) => {
    const out = await run(t, ['fleet', ...ports(), '--devices', '4', '--first-id', '101', '--count', '10', '--interval', '10ms', '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.split('\n').filter(Boolean).length, 1, out.stdout);
    const fleet = JSON.parse(out.stdout) as FleetJson;
    assert.deepEqual(fleet.devices.map((d) => [d.device, d.transport]), [[101, 'tcp'], [102, 'udp'], [103, 'tcp'], [104, 'udp']]);
    for (const d of fleet.devices) assert.deepEqual([d.readings.generated, d.readings.acknowledged, d.readings.unacknowledged], [10, 10, 0]);
    assert.deepEqual(fleet.totals, {
      devices: 4,
      generated: 40,
      acknowledged: 40,
      unacknowledged: 0,
      bytesSent: fleet.devices.reduce((n, d) => n + d.bytes.sent, 0),
    });
  });

  it('with --duration stops after that long, with counts that add up', async (t) => {
    const started = Date.now();
    const out = await run(t, ['fleet', ...ports(), '--devices', '2', '--first-id', '201', '--duration', '400ms', '--interval', '20ms', '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(Date.now() - started < 15_000);
    const fleet = JSON.parse(out.stdout) as FleetJson;
    assert.equal(fleet.totals.devices, 2);
    assert.ok(fleet.totals.generated > 0);
    assert.equal(fleet.totals.acknowledged + fleet.totals.unacknowledged, fleet.totals.generated);
    assert.doesNotMatch(out.stderr, /\d+\/\d+ readings/, 'without --count the progress line has no total');
  });

  it('refuses to start without --count or --duration, or with bad values, with a clear error', async (t) => {
    const cases: [string[], RegExp][] = [
      [[], /--count.*--duration|--duration.*--count/],
      [['--duration', 'a while'], /duration/],
      [['--transports', 'tcp,carrier-pigeon', '--count', '1'], /transports/],
      [['--devices', '0', '--count', '1'], /devices/],
      [['--first-id', '4294967295', '--devices', '2', '--count', '1'], /first-id/],
    ];
    const outs = await inTurn(cases, ([args]) => run(t, ['fleet', ...ports(), ...args]));
    cases.forEach(([args, mentions], i) => {
      const out = outs[i]!;
      assert.notEqual(out.code, 0, args.join(' '));
      assert.equal(out.stdout, '', args.join(' '));
      assert.match(out.stderr, mentions, args.join(' '));
      assert.doesNotMatch(out.stderr, /^\s+at /m, 'a stack trace');
    });
  });
});

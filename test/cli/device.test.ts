// `sensorwire device` run as a process against a spawned server: a line per reply and a summary
// over TCP and UDP (once through bin/sensorwire.js, as `npx sensorwire` starts it), --json, --seed,
// no server at all, Ctrl-C in the middle, and bad options. Then `readings` on what it stored.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { inTurn, jsonLines, run, sensorwire, server, SuiteCleanup, tempDir, type Finished, type ServerProcess } from '../support/cli.ts';

const RUN = ['--count', '30', '--batch', '3', '--interval', '10ms'];

interface Summary {
  device: number;
  transport: string;
  readings: { generated: number; sent: number; acknowledged: number; unacknowledged: number; rejected: number; dropped: number };
  messages: { sent: number; acknowledged: number; unacknowledged: number };
  bytes: { sent: number; received: number };
  rtt: { samples: number; minMs: number; avgMs: number; maxMs: number } | null;
}

/** The readings line of the readable summary: generated, sent, acknowledged, unacknowledged. */
function summaryCounts(stdout: string): number[] {
  const m = /(\d+) generated, (\d+) sent, (\d+) acknowledged, (\d+) unacknowledged/.exec(stdout);
  assert.ok(m, `no readings line in the summary:\n${stdout}`);
  return m.slice(1).map(Number);
}

/** Checks the event lines and the summary of a device run that delivered 30 readings. */
function assertReadableRun(stdout: string, id: number, transport: string, port: number): void {
  const lines = stdout.split('\n');
  assert.equal(lines[0], `connected to 127.0.0.1:${port}`);
  const start = lines.findIndex((l) => l.startsWith(`device ${id} over ${transport}`));
  assert.ok(start > 0, `no summary:\n${stdout}`);
  const events = lines.slice(1, start);
  const acks = events.map((l) => /^ack #(\d+) OK: (\d+) readings? stored(, rtt \d+(\.\d+)? ms)?$/.exec(l)).filter((m) => m !== null);
  assert.equal(acks.length, 10, stdout);
  assert.equal(acks.reduce((n, m) => n + Number(m[2]), 0), 30);
  assert.equal(new Set(acks.map((m) => m[1])).size, 10, 'each message acknowledged once');
  assert.equal(events.filter((l) => /^ack #\d+ OK \(HELLO\)$/.test(l)).length, 1, stdout);
  assert.equal(events.filter((l) => /^ack #\d+ OK \(BYE\)$/.test(l)).length, 1, stdout);
  assert.equal(events.length, 12, `nothing but replies:\n${stdout}`);
  assert.deepEqual(summaryCounts(stdout), [30, 30, 30, 0]);
  assert.match(stdout, /\brtt\b.*\d+ samples/);
}

function assertJsonSummary(stdout: string, id: number, transport: string): Summary {
  assert.equal(stdout.split('\n').filter(Boolean).length, 1, `exactly one line: ${stdout}`);
  assert.ok(stdout.endsWith('}\n'));
  const s = JSON.parse(stdout) as Summary;
  assert.deepEqual([s.device, s.transport], [id, transport]);
  assert.deepEqual(
    [s.readings.generated, s.readings.sent, s.readings.acknowledged, s.readings.unacknowledged, s.readings.rejected, s.readings.dropped],
    [30, 30, 30, 0, 0, 0],
  );
  assert.deepEqual([s.messages.sent, s.messages.acknowledged, s.messages.unacknowledged], [10, 10, 0]);
  assert.ok(s.bytes.sent > 0 && s.bytes.received > 0, JSON.stringify(s.bytes));
  assert.ok(s.rtt !== null && s.rtt.samples > 0, 'rtt present');
  assert.ok(s.rtt.minMs <= s.rtt.avgMs && s.rtt.avgMs <= s.rtt.maxMs, JSON.stringify(s.rtt));
  return s;
}

/** A TCP and a UDP port on 127.0.0.1 where nothing listens (taken from the OS, then let go). */
async function silentPorts(): Promise<{ tcp: number; udp: number }> {
  const tcp = createServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const tcpPort = (tcp.address() as { port: number }).port;
  await new Promise((resolve) => tcp.close(resolve));
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const udpPort = udp.address().port;
  await new Promise<void>((resolve) => udp.close(resolve));
  return { tcp: tcpPort, udp: udpPort };
}

describe('sensorwire device against a server', () => {
  const suite = new SuiteCleanup();
  let srv: ServerProcess;
  let dbPath: string;
  before(async () => {
    dbPath = join(tempDir(suite), 'device.db');
    srv = await server(suite, dbPath, ['--log-level', 'warn']);
  });
  after(() => suite.run());

  it('over tcp: prints a line per reply and a readable summary', async (t) => {
    const out = await run(t, ['device', '--transport', 'tcp', '--port', String(srv.tcpPort), '--id', '21', ...RUN]);
    assert.deepEqual([out.code, out.stderr], [0, '']);
    assertReadableRun(out.stdout, 21, 'tcp', srv.tcpPort);
  });

  it('over udp, started as `npx sensorwire` starts it: prints a line per reply and a readable summary', async (t) => {
    const out = await run(t, ['device', '--transport', 'udp', '--port', String(srv.udpPort), '--id', '22', ...RUN], { via: 'bin' });
    assert.deepEqual([out.code, out.stderr], [0, '']);
    assertReadableRun(out.stdout, 22, 'udp', srv.udpPort);
  });

  it('with --json prints exactly one JSON object whose counts agree', async (t) => {
    const [tcp, udp] = await Promise.all([
      run(t, ['device', '--transport', 'tcp', '--port', String(srv.tcpPort), '--id', '23', ...RUN, '--json']),
      run(t, ['device', '--transport', 'udp', '--port', String(srv.udpPort), '--id', '24', ...RUN, '--json']),
    ]);
    assert.deepEqual([tcp.code, tcp.stderr, udp.code, udp.stderr], [0, '', 0, '']);
    assertJsonSummary(tcp.stdout, 23, 'tcp');
    assertJsonSummary(udp.stdout, 24, 'udp');
  });

  it('over rudp: a line per reply, the summary with its rudp lines, and --json with the rudp fields', async (t) => {
    const port = String(srv.udpPort);
    const [text, json] = await Promise.all([
      run(t, ['device', '--transport', 'rudp', '--port', port, '--id', '28', ...RUN]),
      run(t, ['device', '--transport', 'rudp', '--port', port, '--id', '29', ...RUN, '--json']),
    ]);
    assert.deepEqual([text.code, text.stderr, json.code, json.stderr], [0, '', 0, '']);
    // The lines of a TCP run, and on a loaded machine perhaps a resend (the RTO floor is 50 ms),
    // whose duplicate makes the ACK that covers it say DUPLICATE, and which leaves out the latest
    // readings that newer samples superseded (counted apart).
    const lines = text.stdout.split('\n');
    assert.equal(lines[0], `connected to 127.0.0.1:${srv.udpPort}`);
    const end = lines.findIndex((l) => l.startsWith('device 28 over rudp'));
    assert.ok(end > 0, text.stdout);
    const events = lines.slice(1, end).filter((l) => !/^resent #\d+ \((timeout|fast|probe)\): /.test(l));
    const superseded = Number(/, (\d+) superseded by newer samples/.exec(text.stdout)?.[1] ?? 0);
    const acks = events.map((l) => /^ack #(\d+) (?:OK|DUPLICATE): (\d+) readings? stored(, rtt \d+(\.\d+)? ms)?$/.exec(l)).filter((m) => m !== null);
    assert.deepEqual([acks.length, new Set(acks.map((m) => m[1])).size, acks.reduce((n, m) => n + Number(m[2]), 0)], [10, 10, 30 - superseded], text.stdout);
    assert.equal(events.filter((l) => /^ack #1 OK \(HELLO\)$/.test(l)).length, 1, text.stdout);
    assert.equal(events.filter((l) => /^ack #\d+ (OK|DUPLICATE) \(BYE\)$/.test(l)).length, 1, text.stdout);
    assert.equal(events.length, 12, `nothing but replies and resends:\n${text.stdout}`);
    assert.deepEqual(summaryCounts(text.stdout), [30, 30, 30 - superseded, 0]);
    assert.match(text.stdout, /^ {2}rudp: +srtt [\d.]+ ms, rttvar [\d.]+ ms, rto \d+ ms, epoch 0x[0-9a-f]{8}$/m);
    assert.match(text.stdout, /resent: \d+ on timeout, \d+ fast, \d+ probes, 0 after resync/);
    assert.equal(json.stdout.split('\n').filter(Boolean).length, 1, `exactly one line: ${json.stdout}`);
    const s = JSON.parse(json.stdout) as Summary & {
      readings: { superseded: number };
      rudp?: { srttMs: number | null; rtoMs: number; gaveUp: number; resyncs: number };
    };
    const r = s.readings;
    assert.deepEqual([s.device, s.transport, r.generated, r.sent, r.acknowledged + r.superseded, r.unacknowledged], [29, 'rudp', 30, 30, 30, 0]);
    assert.deepEqual([s.messages.sent, s.messages.acknowledged, s.messages.unacknowledged], [10, 10, 0]);
    assert.ok(s.rtt !== null && s.rtt.samples > 0 && s.bytes.sent > 0, JSON.stringify(s));
    assert.ok(s.rudp && s.rudp.srttMs !== null && s.rudp.rtoMs >= 50, JSON.stringify(s.rudp));
    assert.deepEqual([s.rudp.gaveUp, s.rudp.resyncs], [0, 0]);
    const store = openSqliteStore(srv.db, { readonly: true });
    t.after(() => store.close());
    for (const id of [28, 29]) {
      const rows = [];
      for await (const r of store.readings({ device: id })) rows.push(r);
      assert.equal(rows.length, 30);
      assert.ok(rows.every((r) => r.transport === 'rudp'));
    }
  });

  it('with --delivery reliable declares every sensor reliable in its HELLO', async (t) => {
    const r = await run(t, ['device', '--transport', 'rudp', '--port', String(srv.udpPort), '--id', '31', ...RUN, '--delivery', 'reliable', '--json']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    const s = JSON.parse(r.stdout) as Summary & { readings: { superseded: number } };
    assert.deepEqual([s.readings.acknowledged, s.readings.superseded], [30, 0], 'nothing of a reliable sensor is superseded');
    const store = openSqliteStore(dbPath, { readonly: true });
    t.after(() => store.close());
    const device = await store.loadDevice(31);
    assert.ok(device, 'the server recorded the device');
    assert.deepEqual(new Set(device.sensors.map((x) => x.delivery)), new Set(['reliable']));
    assert.equal(device.sensors.length, 9);
  });

  it('on Ctrl-C in the middle says BYE, prints the summary and exits 0', async (t) => {
    const store = openSqliteStore(srv.db, { readonly: true });
    t.after(() => store.close());
    await Promise.all([['tcp', srv.tcpPort, 25], ['udp', srv.udpPort, 26]].map(async ([transport, port, id]) => {
      const device = sensorwire(t, ['device', '--transport', String(transport), '--port', String(port), '--id', String(id), '--batch', '3', '--interval', '20ms']);
      await device.linesMatching(/^ack #\d+ OK: 3 readings stored/, 3);
      device.signal('SIGINT');
      const out = await device.finished();
      assert.deepEqual([out.code, out.signal, out.stderr], [0, null, ''], device.describe());
      const lines = out.stdout.split('\n');
      const summaryAt = lines.findIndex((l) => l.startsWith(`device ${id} over ${transport}`));
      assert.ok(summaryAt > 0, device.describe());
      assert.match(lines[summaryAt - 1] ?? '', /^ack #\d+ OK \(BYE\)$/, 'the server acknowledged the BYE just before the summary');
      const [generated, sent, acknowledged, unacknowledged] = summaryCounts(out.stdout);
      assert.ok(generated! >= 9, device.describe());
      assert.deepEqual([sent, acknowledged, unacknowledged], [generated, generated, 0], device.describe());
      let stored = 0;
      for await (const _ of store.readings({ device: Number(id) })) stored++;
      assert.equal(stored, acknowledged);
    }));
  });

  it('refuses bad options with a clear error and a non-zero exit, sending nothing', async (t) => {
    const port = String(srv.tcpPort);
    const cases = [
      ['--transport', 'carrier-pigeon'],
      ['--batch', '0'],
      ['--interval', '5 parsecs'],
      ['--key', 'nothex'],
      ['--transport', 'udp', '--port', '0'],
    ];
    const outs = await inTurn(cases, (args) => run(t, ['device', '--port', port, '--id', '27', '--count', '3', ...args]));
    cases.forEach((args, i) => {
      const out = outs[i]!;
      assert.notEqual(out.code, 0, args.join(' '));
      assert.equal(out.stdout, '', args.join(' '));
      assert.match(out.stderr, new RegExp(`error: .*${args.at(-2)}`), args.join(' '));
      assert.doesNotMatch(out.stderr, /^\s+at /m, 'a stack trace');
    });
    const store = openSqliteStore(srv.db, { readonly: true });
    try {
      assert.equal(await store.loadDevice(27), undefined, 'the device never said HELLO');
    } finally {
      await store.close();
    }
  });
});

describe('sensorwire readings after a device run', () => {
  const suite = new SuiteCleanup();
  let db: string;
  before(async () => {
    const srv = await server(suite, join(tempDir(suite), 'readings.db'), ['--log-level', 'warn']);
    db = srv.db;
    const out = await run(suite, ['device', '--port', String(srv.tcpPort), '--id', '51', '--count', '30', '--batch', '3', '--interval', '10ms', '--quiet']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await srv.stop()).code, 0);
  });
  after(() => suite.run());

  it('prints JSON lines, CSV and a table of what the device sent', async (t) => {
    const outs = await inTurn([
      ['--device', '51', '--format', 'jsonl'],
      ['--format', 'csv'],
      [],
    ], (args) => run(t, ['readings', '--db', db, ...args]));
    for (const out of outs) assert.deepEqual([out.code, out.stderr], [0, '']);
    const [jsonl, csv, table] = outs as [Finished, Finished, Finished];

    const rows = jsonLines(jsonl.stdout);
    assert.equal(rows.length, 30);
    for (const r of rows) {
      assert.equal(r.device, 51);
      assert.ok(Number.isInteger(r.seq) && Number.isInteger(r.sensor) && typeof r.ts === 'number', JSON.stringify(r));
      assert.equal(typeof r.type, 'string');
      assert.ok('value' in r && r.value !== null, JSON.stringify(r));
      assert.equal(r.transport, 'tcp');
    }
    // Every sampling round reads the nine sensors in order, so 30 readings cover them all.
    assert.deepEqual([...new Set(rows.map((r) => r.sensor))].sort((a, b) => Number(a) - Number(b)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(rows.filter((r) => r.name === 'battery').map((r) => r.type), ['uint16', 'uint16', 'uint16']);

    const csvLines = csv.stdout.split('\r\n');
    assert.equal(csvLines.pop(), '');
    const header = csvLines[0]?.split(',') ?? [];
    for (const column of ['device', 'seq', 'sensor', 'type', 'value', 'ts']) assert.ok(header.includes(column), `CSV column ${column}`);
    assert.equal(csvLines.length, 31);
    assert.ok(csvLines.slice(1).every((l) => l.startsWith('51,')));

    const tableLines = table.stdout.split('\n').filter(Boolean);
    assert.match(tableLines[0] ?? '', /^TIME\s+DEVICE\s+SESSION\s+SEQ\s+IDX\s+SENSOR\s+NAME\s+TYPE\s+VALUE\s+UNIT$/);
    assert.equal(tableLines.length, 31);
    assert.ok(tableLines.slice(1).every((l) => /^\S+Z\s+51\s/.test(l)), table.stdout);

  });
});

describe('sensorwire device --seed', () => {
  it('gives the same readings for the same seed and id, against two fresh databases', async (t) => {
    const dir = tempDir(t);
    const [a, b] = await Promise.all([server(t, join(dir, 'a.db'), ['--log-level', 'warn']), server(t, join(dir, 'b.db'), ['--log-level', 'warn'])]);
    const device = (srv: ServerProcess, id: number, seed: number): Promise<unknown> =>
      run(t, ['device', '--port', String(srv.tcpPort), '--id', String(id), '--seed', String(seed), '--count', '45', '--batch', '3', '--interval', '10ms', '--json'])
        .then((out) => assert.equal(out.code, 0, out.stderr));
    // Device 61 with seed 7 on both; device 62 with seed 8 beside it, which must differ.
    await Promise.all([device(a, 61, 7), device(b, 61, 7), device(b, 62, 8)]);
    assert.deepEqual((await Promise.all([a.stop(), b.stop()])).map((e) => e.code), [0, 0]);

    const stored = async (db: string): Promise<Record<string, unknown>[]> => {
      const out = await run(t, ['readings', '--db', db, '--format', 'jsonl']);
      assert.equal(out.code, 0, out.stderr);
      // Time, session and uptime depend on the clock; the message seq on when the connection
      // came up (HELLO takes the next seq); the rest comes from the seed.
      return jsonLines(out.stdout)
        .filter((r) => r.name !== 'uptime')
        .map(({ ts: _ts, time: _time, receivedAt: _receivedAt, session: _session, seq: _seq, ...rest }) => rest);
    };
    const [inA, inB] = await Promise.all([stored(a.db), stored(b.db)]);
    const [first, second, other] = [inA, inB.filter((r) => r.device === 61), inB.filter((r) => r.device === 62)];
    assert.equal(first.length, 40);
    assert.deepEqual(second, first);
    assert.notDeepEqual(
      other.map((r) => (r as { value: unknown }).value),
      first.map((r) => (r as { value: unknown }).value),
      'another seed gives other values',
    );
  });
});

describe('sensorwire device with no server', () => {
  it('over udp ends with every reading unacknowledged, and over tcp retries with backoff until --drain, exit 0', async (t) => {
    const ports = await silentPorts();
    const started = Date.now();
    const [udp, tcp] = await Promise.all([
      run(t, ['device', '--transport', 'udp', '--port', String(ports.udp), ...RUN, '--drain', '500ms', '--json']),
      run(t, ['device', '--transport', 'tcp', '--port', String(ports.tcp), ...RUN, '--drain', '500ms']),
    ]);
    assert.ok(Date.now() - started < 15_000, 'neither waits long past the drain time');

    assert.deepEqual([udp.code, udp.stderr], [0, '']);
    const s = JSON.parse(udp.stdout) as Summary;
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged], [30, 0, 30]);
    assert.equal(s.rtt, null);

    assert.deepEqual([tcp.code, tcp.stderr], [0, '']);
    const retries = [...tcp.stdout.matchAll(/^reconnecting in (\d+) ms \(attempt (\d+): .*ECONNREFUSED.*\)$/gm)];
    assert.ok(retries.length >= 3, tcp.stdout);
    assert.deepEqual(retries.map((m) => Number(m[2])), retries.map((_, i) => i + 1), 'attempts counted from 1');
    const delays = retries.map((m) => Number(m[1]));
    assert.ok(delays.at(-1)! > delays[0]!, `the delay grows: ${delays.join(', ')}`);
    assert.doesNotMatch(tcp.stdout, /^connected/m);
    assert.deepEqual(summaryCounts(tcp.stdout), [30, 0, 0, 30]);
  });
});

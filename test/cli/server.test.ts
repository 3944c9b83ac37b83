// `sensorwire server` run as a process: the `listening` lines, pino's JSON lines on stderr and
// --log-level, Ctrl-C after devices have sent (exit 0, everything acknowledged is in the
// database), and the ways it refuses to start: a busy port, bad option values, a bad keys file.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { inTurn, jsonLines, run, server, sensorwire, tempDir, type Cleanup, type Finished, type ServerProcess } from '../support/cli.ts';

/** Readings stored per device. */
async function storedPerDevice(db: string): Promise<Map<number, number>> {
  const store = openSqliteStore(db, { readonly: true });
  try {
    const counts = new Map<number, number>();
    for await (const r of store.readings()) counts.set(r.device, (counts.get(r.device) ?? 0) + 1);
    return counts;
  } finally {
    await store.close();
  }
}

/** No stack trace, no uncaught-error dump: a message for a person. */
function assertClearError(stderr: string, mentions: RegExp): void {
  assert.match(stderr, mentions);
  assert.doesNotMatch(stderr, /^\s+at /m, 'a stack trace');
}

describe('sensorwire server', () => {
  it('prints where it listens, logs JSON lines, and on Ctrl-C exits 0 with what it acknowledged stored', async (t) => {
    const db = join(tempDir(t), 'server.db');
    const srv = await server(t, db);
    assert.deepEqual(srv.cli.lines(), [`listening tcp 127.0.0.1:${srv.tcpPort}`, `listening udp 127.0.0.1:${srv.udpPort}`]);

    const device = async (transport: 'tcp' | 'udp', id: number): Promise<Record<string, unknown>> => {
      const port = transport === 'tcp' ? srv.tcpPort : srv.udpPort;
      const out = await run(t, ['device', '--transport', transport, '--port', String(port), '--id', String(id), '--count', '30', '--batch', '3', '--interval', '10ms', '--json']);
      assert.equal(out.code, 0, out.stderr);
      return JSON.parse(out.stdout) as Record<string, unknown>;
    };
    const summaries = await Promise.all([device('tcp', 11), device('udp', 12)]);
    await srv.cli.linesMatching(/"event":"bye"/, 2, 'stderr');

    const end = await srv.stop();
    assert.deepEqual([end.code, end.signal], [0, null], srv.cli.describe());

    // Every stderr line is a pino JSON object with a numeric level and a message.
    const logs = jsonLines(end.stderr);
    for (const entry of logs) {
      assert.equal(typeof entry.level, 'number');
      assert.equal(typeof entry.msg, 'string');
      assert.equal(typeof entry.time, 'number');
      assert.equal(entry.pid, srv.cli.child.pid);
    }
    const event = (name: string): Record<string, unknown>[] => logs.filter((l) => l.event === name);
    assert.deepEqual(event('listening').map((l) => [l.level, l.tcp, l.udp, l.db]), [[30, `127.0.0.1:${srv.tcpPort}`, `127.0.0.1:${srv.udpPort}`, db]]);
    assert.deepEqual(event('hello').map((l) => [l.device, l.transport]).sort(), [[11, 'tcp'], [12, 'udp']]);
    assert.deepEqual(event('bye').map((l) => [l.device, l.transport]).sort(), [[11, 'tcp'], [12, 'udp']]);
    assert.deepEqual(event('stopping').map((l) => l.signal), ['SIGINT']);
    const stopped = event('stopped');
    assert.equal(stopped.length, 1);
    const stats = stopped[0]?.stats as Record<string, { readingsStored: number }>;
    assert.deepEqual([stats.tcp?.readingsStored, stats.udp?.readingsStored], [30, 30]);

    // What the devices were told is stored, is stored.
    const acknowledged = summaries.map((s) => (s.readings as { acknowledged: number }).acknowledged);
    assert.deepEqual(acknowledged, [30, 30]);
    assert.deepEqual([...(await storedPerDevice(db))].sort(), [[11, 30], [12, 30]]);
  });

  it('logs nothing below warn with --log-level warn', async (t) => {
    const srv = await server(t, join(tempDir(t), 'quiet.db'), ['--log-level', 'warn']);
    const end = await srv.stop();
    assert.equal(end.code, 0);
    assert.equal(end.stderr, '', 'info lines (listening, stopping, stopped) are silenced');
    assert.equal(end.stdout.split('\n').filter((l) => l.startsWith('listening ')).length, 2);
  });

  it('exits 1 with a clear message when its TCP or UDP port is taken', async (t) => {
    const dir = tempDir(t);
    const tcpHolder = createServer();
    await new Promise<void>((resolve) => tcpHolder.listen(0, '127.0.0.1', resolve));
    t.after(() => tcpHolder.close());
    const udpHolder = createSocket('udp4');
    await new Promise<void>((resolve) => udpHolder.bind(0, '127.0.0.1', resolve));
    t.after(() => udpHolder.close());
    const tcpPort = (tcpHolder.address() as { port: number }).port;
    const udpPort = udpHolder.address().port;

    const [tcpBusy, udpBusy] = await Promise.all([
      run(t, ['server', '--tcp-port', String(tcpPort), '--udp-port', '0', '--db', join(dir, 'a.db')]),
      run(t, ['server', '--tcp-port', '0', '--udp-port', String(udpPort), '--db', join(dir, 'b.db')]),
    ]);
    for (const [out, port] of [[tcpBusy, tcpPort], [udpBusy, udpPort]] as const) {
      assert.equal(out.code, 1, out.stderr);
      assert.doesNotMatch(out.stdout, /listening/);
      assertClearError(out.stderr, new RegExp(`${port}.*(EADDRINUSE|in use)`));
    }
    assert.match(tcpBusy.stderr, /TCP/);
    assert.match(udpBusy.stderr, /UDP/);
  });

  it('refuses bad option values with an error naming the option and a non-zero exit', async (t) => {
    const db = join(tempDir(t), 'never.db');
    const cases = [
      ['--tcp-port', 'abc'],
      ['--workers', '0'],
      ['--log-level', 'loud'],
    ];
    const outs = await inTurn(cases, (args) => run(t, ['server', '--db', db, ...args]));
    cases.forEach((args, i) => {
      const out = outs[i]!;
      assert.notEqual(out.code, 0, args.join(' '));
      assert.equal(out.stdout, '', args.join(' '));
      assertClearError(out.stderr, new RegExp(args[0]!));
    });
  });

  it('refuses a malformed --keys file with a clear message and exit 1', async (t) => {
    const dir = tempDir(t);
    const file = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const cases = [
      file('not-json.json', '{"1": "00112233445566778899aabbccddeeff",'),
      file('bad-key.json', '{"1": "zz112233445566778899aabbccddeeff", "sensor": "00112233445566778899aabbccddeeff"}'),
    ];
    const outs = await inTurn(cases, (keys) => run(t, ['server', '--tcp-port', '0', '--udp-port', '0', '--db', join(dir, 'k.db'), '--keys', keys]));
    cases.forEach((keys, i) => {
      const out = outs[i]!;
      assert.equal(out.code, 1, `${keys}\n${out.stderr}`);
      assert.doesNotMatch(out.stdout, /listening/, keys);
      assertClearError(out.stderr, /keys file/);
      assert.ok(out.stderr.includes(keys), `the message names ${keys}: ${out.stderr}`);
    });
  });

  describe('with --workers 2', () => {
    /** Starts a cluster, sends it 18 readings over each transport if `devices`, and stops it with `stop`. */
    async function clusterRun(t: Cleanup, stop: (srv: ServerProcess) => void, devices: boolean): Promise<void> {
      const srv = await server(t, join(tempDir(t), 'workers.db'), ['--workers', '2'], { group: true });
      // Both workers take the same ports; the primary prints them once.
      const workers = await srv.cli.linesMatching(/"event":"listening"/, 2, 'stderr');
      const pids = workers.map((m) => (JSON.parse(m.input) as { pid: number }).pid);
      assert.equal(new Set(pids).size, 2);
      for (const m of workers) assert.match(m.input, new RegExp(`"tcp":"127.0.0.1:${srv.tcpPort}","udp":"127.0.0.1:${srv.udpPort}"`));
      const device = (transport: string, port: number, id: number): Promise<Finished> =>
        run(t, ['device', '--transport', transport, '--port', String(port), '--id', String(id), '--count', '18', '--batch', '9', '--interval', '10ms', '--quiet']);
      if (devices) {
        for (const out of await Promise.all([device('tcp', srv.tcpPort, 71), device('udp', srv.udpPort, 72)])) assert.equal(out.code, 0, out.stderr);
      }

      stop(srv);
      const end = await srv.cli.finished();
      assert.deepEqual([end.code, end.signal], [0, null], srv.cli.describe());
      assert.equal(end.stdout.split('\n').filter((l) => l.startsWith('listening ')).length, 2);
      // Each worker finished what it had and said so; none was killed on the way.
      const stopped = jsonLines(end.stderr).filter((l) => l.event === 'stopped' && l.pid !== srv.cli.child.pid);
      assert.deepEqual(stopped.map((l) => l.pid).sort(), [...pids].sort(), srv.cli.describe());
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
      assert.deepEqual([...(await storedPerDevice(srv.db))].sort(), devices ? [[71, 18], [72, 18]] : []);
    }

    it('stops its workers and exits 0 on SIGTERM to the primary', async (t) => {
      await clusterRun(t, (srv) => process.kill(srv.cli.child.pid!, 'SIGTERM'), false);
    });

    it('stops its workers and exits 0 on Ctrl-C in a terminal (SIGINT to the whole process group)', async (t) => {
      await clusterRun(t, (srv) => srv.cli.signal('SIGINT'), true);
    });

    it('exits 1 with a clear message when the workers cannot start (a port taken), instead of retrying for ever', async (t) => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      t.after(() => holder.close());
      const port = (holder.address() as { port: number }).port;
      const cli = sensorwire(t, ['server', '--workers', '2', '--tcp-port', String(port), '--udp-port', '0', '--db', join(tempDir(t), 'busy.db')], { group: true });
      const out = await cli.finished();
      assert.equal(out.code, 1, cli.describe());
      assert.doesNotMatch(out.stdout, /listening/);
      assertClearError(out.stderr, new RegExp(`${port}.*(EADDRINUSE|in use)`));
    });
  });

  it('with a valid --keys file, stores what a device signs with its key', async (t) => {
    const dir = tempDir(t);
    const key = '00112233445566778899aabbccddeeff';
    const keys = join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ 5: key }));
    const srv = await server(t, join(dir, 'keys.db'), ['--keys', keys]);
    await srv.cli.line(/"event":"listening".*"auth":true/, 'stderr');
    const signed = sensorwire(t, ['device', '--port', String(srv.tcpPort), '--id', '5', '--key', key, '--count', '18', '--batch', '9', '--interval', '10ms', '--json']);
    const out = await signed.finished();
    assert.equal(out.code, 0, out.stderr);
    const summary = JSON.parse(out.stdout) as { readings: { acknowledged: number } };
    assert.equal(summary.readings.acknowledged, 18);
    assert.equal((await srv.stop()).code, 0);
    assert.deepEqual([...(await storedPerDevice(srv.db))], [[5, 18]]);
  });
});

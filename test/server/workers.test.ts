// `server --workers 2`: two cluster workers share the TCP and UDP ports and one SQLite file. TCP
// and UDP devices send through both; every reading is stored once. SIGTERM to the primary stops
// the workers (each finishes its work and logs `stopped`), the primary exits 0, and the workers'
// PIDs are gone.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Fleet } from '../../src/device/fleet.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { tcp, udp } from '../../src/transport/index.ts';
import { ErrorCode } from '../../src/protocol/index.ts';
import { until, within } from '../support/wait.ts';
import { AckLog, HOST, RawUdpClient, ServerProcess, alive, checkStore, checkSummaries, tempDir } from './support.ts';

/** PIDs of a process's children, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('server --workers 2', { timeout: 120_000 }, () => {
  it('stores every reading once through both workers; SIGTERM stops the workers and exits 0', async (t) => {
    const db = join(tempDir(t), 'readings.db');
    const srv = ServerProcess.start(t, ['--workers', '2', '--host', HOST, '--tcp-port', '0', '--udp-port', '0', '--db', db, '--log-level', 'info']);
    const { tcpPort, udpPort } = await srv.listening();
    // Both workers log `listening` (pino lines carry the pid), on the same ports.
    const listening = await srv.waitFor('both workers to listen', () => {
      const lines = srv.logs.filter((l) => l.event === 'listening');
      return lines.length >= 2 ? lines : undefined;
    });
    const workers = [...new Set(listening.map((l) => l.pid))];
    assert.equal(workers.length, 2);
    assert.ok(!workers.includes(srv.pid), 'the primary does not serve');
    for (const l of listening) assert.deepEqual([l.tcp, l.udp], [`${HOST}:${tcpPort}`, `${HOST}:${udpPort}`]);
    assert.deepEqual(childrenOf(srv.pid).sort(), [...workers].sort(), 'the workers are the primary\'s children');
    // Whatever happens, the workers go too (by PID).
    t.after(() => {
      for (const pid of workers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });

    const log = new AckLog();
    const fleet = new Fleet({
      devices: 16,
      firstId: 500,
      transports: [tcp, udp],
      ports: { tcp: tcpPort, udp: udpPort },
      host: HOST,
      intervalMs: 10,
      batch: 5,
      count: 100,
      session: 9,
      ackTimeoutMs: 10_000,
      drainMs: 20_000,
      onEvent: log.onEvent,
    });
    t.after(() => fleet.finish());
    const summaries = await within(fleet.run(), 'the devices to finish', 30_000);
    assert.deepEqual(log.errors, []);

    // rudp keeps a session's state in one process's memory: workers refuse it, saying why.
    const rudpClient = await RawUdpClient.open(t, udpPort);
    await rudpClient.send({
      type: 'HELLO', deviceId: 900, seq: 1, reliable: true, session: 1, resumeSeq: 1, intervalMs: 1000, model: 'x'.repeat(60), firmware: '1', sensors: [{ id: 1, type: 'bool', delivery: 'reliable', unit: '', name: 'door' }],
    });
    const refusal = await rudpClient.next('the refusal of an rudp HELLO');
    assert.ok(refusal.type === 'ERROR' && refusal.code === ErrorCode.UNEXPECTED, JSON.stringify(refusal));
    assert.match(refusal.text, /^rudp needs a server of one process/);

    srv.kill('SIGTERM');
    const end = await srv.exit('the primary to exit after SIGTERM', 10_000);
    assert.deepEqual(end, { code: 0, signal: null });
    // Each worker finished its work and said so.
    const stopped = srv.logs.filter((l) => l.event === 'stopped' && l.pid !== srv.pid).map((l) => l.pid);
    assert.deepEqual(stopped.sort(), [...workers].sort());
    await until(() => workers.every((pid) => !alive(pid)), 'the workers to be gone', 5000);

    const store = openSqliteStore(db, { readonly: true });
    t.after(() => store.close());
    const check = await checkStore(store);
    checkSummaries(summaries, check);
    log.assertMatches(check, summaries);
    // Both workers took part (the kernel and the primary spread the traffic).
    const stored = srv.logs.filter((l) => l.event === 'stopped' && l.pid !== srv.pid)
      .map((l) => (l.stats as { tcp: { readingsStored: number }; udp: { readingsStored: number } }))
      .map((s) => s.tcp.readingsStored + s.udp.readingsStored);
    assert.equal(stored.reduce((a, b) => a + b, 0), check.totalReadings, 'the workers\' counters add up to the store');
  });
});

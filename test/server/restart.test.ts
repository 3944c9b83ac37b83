// The server CLI is SIGKILLed mid-run while TCP devices keep sending, and restarted on the same
// TCP port and database: the devices reconnect, say HELLO, resend what was never acknowledged,
// and at the end every reading is acknowledged and stored exactly once (PROTOCOL.md §6.3: a
// server that restarts loses nothing it acknowledged; a resend of a committed READINGS is
// answered ACK DUPLICATE and stores nothing).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Fleet } from '../../src/device/fleet.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { tcp } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';
import { AckLog, HOST, ServerProcess, checkStore, checkSummaries, tempDir } from './support.ts';

const DEVICES = 5;
const COUNT = 300;

describe('server killed and restarted mid-run', { timeout: 120_000 }, () => {
  it('loses and duplicates nothing: TCP devices reconnect and resend', async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'readings.db');
    const args = ['--host', HOST, '--udp-port', '0', '--db', db, '--log-level', 'warn'];

    const first = ServerProcess.start(t, ['--tcp-port', '0', ...args]);
    const { tcpPort } = await first.listening();

    const log = new AckLog();
    const fleet = new Fleet({
      devices: DEVICES,
      firstId: 1,
      transports: [tcp],
      ports: { tcp: tcpPort },
      host: HOST,
      intervalMs: 15,
      batch: 5,
      count: COUNT,
      session: 100,
      backoffMs: { min: 20, max: 300 },
      drainMs: 30_000,
      onEvent: log.onEvent,
    });
    t.after(() => fleet.finish());
    const running = fleet.run();

    // Kill it once some readings are stored (acknowledged) but the devices are far from done.
    await until(() => fleet.progress().acknowledged >= 100, 'the first readings to be acknowledged', 15_000);
    first.kill('SIGKILL');
    const killed = await first.exit('the killed server to exit');
    assert.equal(killed.signal, 'SIGKILL');
    const atKill = fleet.progress();
    assert.ok(atKill.acknowledged < DEVICES * COUNT, 'the devices were not done when the server died');

    // Restart on the same TCP port and file.
    const second = ServerProcess.start(t, ['--tcp-port', String(tcpPort), ...args]);
    const restarted = await second.listening();
    assert.equal(restarted.tcpPort, tcpPort);

    const summaries = await within(running, 'the devices to finish after the restart', 60_000);
    second.kill('SIGTERM');
    const stopped = await second.exit('the restarted server to stop');
    assert.deepEqual(stopped, { code: 0, signal: null });

    assert.deepEqual(log.errors, []);
    for (const s of summaries) {
      assert.ok(s.reconnects >= 1, `device ${s.device} did not reconnect`);
      assert.equal(s.readings.generated, COUNT);
    }
    // Something was in flight when the server died: resent, and either stored now or answered
    // DUPLICATE because it had been committed before the kill.
    const retransmissions = summaries.reduce((n, s) => n + s.messages.retransmissions, 0);
    const duplicates = summaries.reduce((n, s) => n + s.messages.duplicates, 0);
    assert.ok(retransmissions + duplicates > 0, 'no retransmission and no DUPLICATE after the restart');
    assert.equal(duplicates, log.status('DUPLICATE'));

    const store = openSqliteStore(db, { readonly: true });
    t.after(() => store.close());
    const check = await checkStore(store);
    checkSummaries(summaries, check);
    log.assertMatches(check, summaries);
  });
});

// The server CLI is SIGKILLed mid-run while TCP devices keep sending, and restarted on the same
// TCP port and database: the devices reconnect, say HELLO, resend what was never acknowledged,
// and at the end every reading is acknowledged and stored exactly once (PROTOCOL.md §6.3: a
// server that restarts loses nothing it acknowledged; a resend of a committed READINGS is
// answered ACK DUPLICATE and stores nothing).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { DeviceSummary } from '../../src/device/device.ts';
import { Fleet } from '../../src/device/fleet.ts';
import { toHex } from '../../src/protocol/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { tcp } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';
import { AckLog, HOST, ServerProcess, checkStore, checkSummaries, tempDir } from './support.ts';

const DEVICES = 5;
const COUNT = 300;

/**
 * Runs DEVICES TCP devices against the server CLI, SIGKILLs it once `killAt` readings are
 * acknowledged, restarts it on the same port and file, and checks the end state.
 */
async function killAndRestart(
  t: TestContext,
  options: {
    readonly batch: number;
    readonly intervalMs: number;
    readonly killAt: number;
    readonly key?: Uint8Array;
    /** SIGSTOP the server first and SIGKILL it once every device has this many readings unacknowledged. */
    readonly stalledReadings?: number;
  },
): Promise<DeviceSummary[]> {
  const dir = tempDir(t);
  const db = join(dir, 'readings.db');
  const args = ['--host', HOST, '--udp-port', '0', '--db', db, '--log-level', 'warn'];
  if (options.key) {
    const keys = join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify(Object.fromEntries(Array.from({ length: DEVICES }, (_, i) => [String(i + 1), toHex(options.key!)]))));
    args.push('--keys', keys);
  }

  const first = ServerProcess.start(t, ['--tcp-port', '0', ...args]);
  const { tcpPort } = await first.listening();

  const log = new AckLog();
  const fleet = new Fleet({
    devices: DEVICES,
    firstId: 1,
    transports: [tcp],
    ports: { tcp: tcpPort },
    host: HOST,
    intervalMs: options.intervalMs,
    batch: options.batch,
    count: COUNT,
    session: 100,
    backoffMs: { min: 20, max: 300 },
    drainMs: 30_000,
    ...(options.key ? { key: options.key } : {}),
    onEvent: log.onEvent,
  });
  t.after(() => fleet.finish());
  const running = fleet.run();

  // Kill it once some readings are stored (acknowledged) but the devices are far from done.
  await until(() => fleet.progress().acknowledged >= options.killAt, 'the first readings to be acknowledged', 15_000);
  if (options.stalledReadings !== undefined) {
    // A server that hangs before it dies: the devices fill their windows and wait.
    const stalled = options.stalledReadings;
    first.kill('SIGSTOP');
    await until(() => fleet.members.every((d) => d.generatedSoFar - d.acknowledgedSoFar >= stalled), 'every device to have its window full', 15_000);
  }
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
  return summaries;
}

describe('server killed and restarted mid-run', { timeout: 120_000 }, () => {
  it('loses and duplicates nothing: TCP devices reconnect and resend', async (t) => {
    await killAndRestart(t, { batch: 5, intervalMs: 15, killAt: 100 });
  });

  it('with --keys, loses nothing either: a full window resent behind the new HELLO is not taken for a replay', async (t) => {
    // One reading per message; the server stops answering before it dies, so that each device
    // has as many messages in flight as it lets itself have, all sent again after the restart.
    const summaries = await killAndRestart(t, {
      batch: 1, intervalMs: 2, killAt: 300, stalledReadings: 80, key: Uint8Array.from({ length: 32 }, (_, i) => i ^ 0x5a),
    });
    for (const s of summaries) {
      assert.equal(s.readings.rejected, 0, `device ${s.device}: readings refused as replays`);
      assert.ok(s.messages.retransmissions >= 32, `device ${s.device}: a full window was in flight at the kill`);
    }
  });
});

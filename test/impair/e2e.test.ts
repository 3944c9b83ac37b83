// The whole system through the relay: `sensorwire server`, `sensorwire impair` at 30 % loss in
// front of its UDP port, and a UDP `sensorwire device` sending 200 readings. Plain UDP does not
// resend, so about half of the readings go unacknowledged (a reading needs its datagram and its
// ACK to get through: 0.7 × 0.7); the server stored every reading it acknowledged, and perhaps a
// few more whose ACK was lost.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { decide, NO_IMPAIRMENT } from '../../src/impair/decisions.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { run, sensorwire, server, tempDir } from '../support/cli.ts';

/** Cold `--import tsx` starts on a busy two-core machine can take many seconds: a generous deadline. */
const START_MS = 60_000;

interface DeviceSummary {
  readings: { generated: number; sent: number; acknowledged: number; unacknowledged: number; rejected: number; dropped: number };
  messages: { sent: number; acknowledged: number; retransmissions: number; unacknowledged: number };
}

interface RelayReport {
  up: { received: number; forwarded: number; dropped: number };
  down: { received: number; forwarded: number; dropped: number };
}

it('a UDP device through a relay at 30 % loss: unacknowledged readings as the loss says; stored ≥ acknowledged', async (t) => {
  const srv = await server(t, join(tempDir(t), 'impair.db'), ['--log-level', 'warn']);
  // Over UDP the device holds its readings until the server has acknowledged its HELLO (and says
  // HELLO again only after 2 s): take the first seed that lets the HELLO and its ACK through, so
  // that the run measures the loss of readings rather than the HELLO's back-off.
  const loss = { ...NO_IMPAIRMENT, loss: 0.3 };
  let seed = 1;
  while (decide(loss, seed, { direction: 'up', flow: 0, index: 0 }).drop || decide(loss, seed, { direction: 'down', flow: 0, index: 0 }).drop) seed++;
  const relay = sensorwire(t, ['impair', '--listen', '0', '--forward', `127.0.0.1:${srv.udpPort}`, '--loss', '0.3', '--seed', String(seed), '--stats-interval', '0', '--json']);
  const relayPort = (await relay.line(/^listening udp 127\.0\.0\.1:(\d+)$/, 'stdout', START_MS))[1]!;

  const device = await run(t, ['device', '--transport', 'udp', '--port', relayPort, '--id', '61', '--count', '200', '--interval', '5ms', '--drain', '3s', '--json'], { timeoutMs: START_MS });
  assert.deepEqual([device.code, device.stderr], [0, ''], device.stdout);
  const summary = JSON.parse(device.stdout) as DeviceSummary;
  const r = summary.readings;

  relay.signal('SIGTERM');
  const relayOut = await relay.finished(START_MS);
  assert.equal(relayOut.code, 0, relay.describe());
  const report = JSON.parse(relayOut.stdout.trimEnd().split('\n').at(-1)!) as RelayReport;
  await srv.stop();

  const store = openSqliteStore(srv.db, { readonly: true });
  t.after(() => store.close());
  let stored = 0;
  for await (const _ of store.readings({ device: 61 })) stored++;

  t.diagnostic(
    `seed ${seed}; device: ${r.sent} sent, ${r.acknowledged} acknowledged, ${r.unacknowledged} unacknowledged; relay up ${report.up.dropped}/${report.up.received} dropped, ` +
      `down ${report.down.dropped}/${report.down.received} dropped; ${stored} stored`,
  );
  assert.deepEqual([r.generated, r.sent, r.dropped], [200, 200, 0]);
  assert.equal(summary.messages.retransmissions, 0, 'plain UDP resends nothing');
  assert.equal(r.acknowledged + r.unacknowledged + r.rejected, r.sent, 'every reading settled');
  // The relay did drop about 30 % each way …
  for (const d of [report.up, report.down]) assert.ok(d.dropped / d.received > 0.2 && d.dropped / d.received < 0.4, JSON.stringify(d));
  // … so about 1 − 0.7² = 51 % of the readings went unacknowledged (binomial sd ≈ 3.5 %; lost HELLOs add a few).
  const unacked = r.unacknowledged / r.sent;
  assert.ok(unacked > 0.35 && unacked < 0.75, `${r.unacknowledged} of ${r.sent} unacknowledged`);
  // A reading acknowledged was stored; a reading stored may have lost its ACK; nothing that the
  // relay dropped on the way up can have been stored.
  assert.ok(stored >= r.acknowledged, `${stored} stored, ${r.acknowledged} acknowledged`);
  assert.ok(stored <= report.up.forwarded && stored <= r.sent, `${stored} stored, ${report.up.forwarded} datagrams passed up`);
  assert.ok(summary.messages.acknowledged <= report.down.forwarded);
});

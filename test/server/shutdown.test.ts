// Stopping the server: it finishes what is in flight (commits and acknowledges every READINGS it
// has taken in), closes its connections and its storage, and the CLI exits 0 on SIGINT and on
// SIGTERM with the SQLite file checkpointed (no -wal file left) and readable.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MessageOf } from '../../src/protocol/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { StoreError } from '../../src/store/errors.ts';
import { until, within } from '../support/wait.ts';
import { GatedStore, HOST, RawTcpClient, ServerProcess, ackOf, allReadings, checkStore, startSqliteServer, tempDir } from './support.ts';

const DEVICE = 31;

function hello(seq: number): MessageOf<'HELLO'> {
  return {
    type: 'HELLO', deviceId: DEVICE, seq, session: 1, resumeSeq: seq, intervalMs: 1000, model: '', firmware: '',
    sensors: [{ id: 1, type: 'uint32', delivery: 'reliable', unit: '', name: 'n' }],
  };
}

function readings(seq: number): MessageOf<'READINGS'> {
  return {
    type: 'READINGS', deviceId: DEVICE, seq, baseTime: 1_795_000_000_000,
    readings: Array.from({ length: 10 }, (_, i) => ({ sensor: 1, delta: i, type: 'uint32' as const, value: seq * 100 + i })),
  };
}

describe('server shutdown', { timeout: 120_000 }, () => {
  it('close() waits for a commit in flight, acknowledges it, then closes the links and the store', async (t) => {
    let gated: GatedStore | undefined;
    const { server, tcpPort } = await startSqliteServer(t, { wrap: (s) => (gated = new GatedStore(s)) });
    const store = gated!;
    const c = await RawTcpClient.connect(t, tcpPort);
    c.send(hello(1));
    await c.nextOpen('the HELLO ACK', ackOf(1));
    store.shut();
    c.send(readings(2));
    await until(() => store.calls.length === 1, 'the commit to start');
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    // Shutdown has begun with the commit held: close() waits for it with the connection open.
    // What arrives from now on is neither stored nor acknowledged (the device keeps it).
    c.send(readings(3));
    assert.equal(closed, false);
    assert.equal(c.ended, false);
    store.release();
    await within(closing, 'close() to finish');
    // The READINGS in flight was acknowledged before the server closed the connection.
    await c.next('the ACK of READINGS 2', ackOf(2));
    await within(c.closed, 'the connection to close');
    assert.deepEqual(c.inbox.got.filter((m) => m.type === 'ACK').map((m) => (m.type === 'ACK' ? m.ackSeq : 0)), [1, 2]);
    assert.equal(server.ingest.stats.tcp.readingsStored, 10, 'READINGS 2 only');
    // The store was closed after its last commit; what it holds is exactly what was acknowledged.
    await assert.rejects(store.totals(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
    assert.deepEqual(store.calls.flat().map((b) => b.seq), [2]);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`the CLI on ${signal}: finishes what it took in, checkpoints the database and exits 0`, async (t) => {
      const db = join(tempDir(t), 'readings.db');
      const srv = ServerProcess.start(t, ['--host', HOST, '--tcp-port', '0', '--udp-port', '0', '--db', db, '--log-level', 'info']);
      const { tcpPort } = await srv.listening();
      const c = await RawTcpClient.connect(t, tcpPort);
      c.send(hello(1));
      await c.nextOpen('the HELLO ACK', ackOf(1));
      // A burst of READINGS, and the signal as soon as the first is acknowledged: the rest are
      // in flight (in the server's queues or socket buffer) when it starts to stop.
      const last = 201;
      for (let seq = 2; seq <= last; seq++) c.send(readings(seq));
      await c.nextOpen('the first READINGS ACK', ackOf(2));
      srv.kill(signal);
      const end = await srv.exit(`the server to exit on ${signal}`);
      assert.deepEqual(end, { code: 0, signal: null });
      await within(c.closed, 'the connection to close');

      // Every READINGS the server took in was committed and acknowledged.
      const stopped = srv.logs.find((l) => l.event === 'stopped');
      assert.ok(stopped, 'the server logged its stop');
      const stats = (stopped.stats as { tcp: { messages: number; readingsStored: number; refused: number } }).tcp;
      const acked = c.inbox.got.filter((m) => m.type === 'ACK' && m.ackSeq > 1).map((m) => (m.type === 'ACK' ? m.ackSeq : 0));
      assert.equal(stats.refused, 0);
      assert.equal(acked.length, stats.messages - 1, 'an ACK for every READINGS taken in');
      assert.deepEqual(acked, acked.map((_, i) => i + 2), 'ACKs in order, none missing');
      assert.ok(acked.length >= 1);

      // The storage was closed cleanly: no WAL left, and the file reads back the same.
      assert.equal(existsSync(`${db}-wal`), false, 'the WAL was checkpointed and removed');
      const store = openSqliteStore(db, { readonly: true });
      t.after(() => store.close());
      const check = await checkStore(store);
      assert.equal(check.totalReadings, stats.readingsStored);
      assert.equal(check.totalReadings, acked.length * 10);
      const seqs = [...new Set((await allReadings(store)).map((r) => r.seq))];
      assert.deepEqual(seqs, acked);
    });
  }
});

// An rudp device against the real server: through the seeded impairment relay at 30 % loss,
// 5 % duplication, 10 % reordering and 5 ± 5 ms delay both ways (every `reliable` reading stored
// once and in order, the newest `latest` sample stored, nothing sent again once acknowledged),
// and across a server killed and started again on the same port and database (the device sees
// the new epoch, resynchronises, and loses nothing it held).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { SimulatedDevice, type DeviceEvent, type DeviceOptions, type DeviceSummary } from '../../src/device/device.ts';
import { startRelay } from '../../src/impair/relay.ts';
import { ErrorCode, Limits, decode, decodeHeader, encode, type Frame } from '../../src/protocol/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store, StoredReading } from '../../src/store/types.ts';
import { udp, type Transport } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';
import { DelegatingStore, HOST, RawUdpClient, ServerProcess, allReadings, startSqliteServer, tempDir } from '../server/support.ts';

/** Seven of the nine sensors `reliable`; temperature and humidity stay `latest`. */
const MOSTLY_RELIABLE = {
  delivery: { pressure: 'reliable', battery: 'reliable', rssi: 'reliable', position: 'reliable', uptime: 'reliable' },
} as const;
const LATEST = new Set([1, 2]);

/** A UDP transport that watches the device: every datagram it sends, every ACK it is given. */
interface Tap {
  readonly transport: Transport;
  /** Sends of a seq the device had already seen acknowledged (cumulatively, same epoch). */
  readonly lateResends: string[];
  readonly sends: () => number;
  /** The reliable readings of each READINGS as first sent, in seq order: `seq:sensor:ts`. */
  readonly reliableSent: () => string[];
  /** The bytes of the first READINGS the device sent, as they went out. */
  readonly firstReadings: () => Uint8Array | undefined;
}

function tapped(): Tap {
  const lateResends: string[] = [];
  let sends = 0;
  let epoch: number | undefined;
  let cumulative = 0;
  const firstSends = new Map<number, string[]>();
  let firstReadings: Uint8Array | undefined;
  const transport: Transport = {
    kind: 'udp',
    listen: (o, h) => udp.listen(o, h),
    connect: async (o, h) => {
      const link = await udp.connect(o, {
        ...h,
        frame: (l, f: Frame) => {
          if (f.ok && f.message.type === 'ACK' && f.message.rudp) {
            if (f.message.rudp.epoch !== epoch) {
              // A new server instance keeps its own books: only its acks count from now on.
              epoch = f.message.rudp.epoch;
              cumulative = 0;
            }
            cumulative = Math.max(cumulative, f.message.ackSeq);
          }
          h.frame(l, f);
        },
      });
      const send = link.send.bind(link);
      const watched = Object.create(link) as typeof link;
      watched.send = (bytes: Uint8Array): boolean => {
        const seq = decodeHeader(bytes).seq;
        sends++;
        const m = decode(bytes, { maxMessageSize: Limits.MAX_UDP_MESSAGE });
        if (m.type === 'READINGS' && !firstReadings) firstReadings = bytes.slice();
        if (m.type === 'READINGS' && !firstSends.has(seq)) {
          firstSends.set(seq, m.readings.filter((r) => !LATEST.has(r.sensor)).map((r) => `${seq}:${r.sensor}:${m.baseTime + r.delta}`));
        }
        if (seq <= cumulative) lateResends.push(`seq ${seq} sent after the cumulative ack ${cumulative} (epoch ${epoch})`);
        return send(bytes);
      };
      return watched;
    },
  };
  const reliableSent = (): string[] => [...firstSends].sort(([a], [b]) => a - b).flatMap(([, list]) => list);
  return { transport, lateResends, sends: () => sends, reliableSent, firstReadings: () => firstReadings };
}

/** Records the seqs of READINGS in the order the server commits them. */
class CommitOrder extends DelegatingStore {
  readonly seqs: number[] = [];
  override async commit(batches: Parameters<Store['commit']>[0]): ReturnType<Store['commit']> {
    const outcomes = await this.inner.commit(batches);
    batches.forEach((b, i) => {
      if (outcomes[i] === 'stored') this.seqs.push(b.seq);
    });
    return outcomes;
  }
}

/** Each reliable sensor's readings are all there, once, in the order taken; each latest one has its newest. */
function assertDelivered(readings: readonly StoredReading[], rounds: number, s: DeviceSummary): void {
  const keys = new Set(readings.map((r) => `${r.seq}/${r.index}`));
  assert.equal(keys.size, readings.length, 'a reading stored twice');
  const lastRound = Math.max(...readings.map((r) => r.ts));
  for (let sensor = 1; sensor <= 9; sensor++) {
    const mine = readings.filter((r) => r.sensor === sensor).sort((a, b) => a.seq - b.seq || a.index - b.index);
    if (LATEST.has(sensor)) {
      // (A resend may have carried it, under an older seq: §7.7.)
      assert.equal(Math.max(...mine.map((r) => r.ts)), lastRound, `latest sensor ${sensor}: its newest sample is stored`);
      continue;
    }
    assert.equal(mine.length, rounds, `reliable sensor ${sensor}: every sample stored`);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.ts >= mine[i - 1]!.ts, `reliable sensor ${sensor}: in the order taken`);
  }
  assert.equal(s.readings.acknowledged + s.readings.superseded, s.readings.generated, JSON.stringify(s.readings));
  // A first copy may have got through with readings its resend left out as stale: stored then,
  // though the device counts them superseded.
  assert.ok(readings.length >= s.readings.acknowledged && readings.length <= s.readings.generated, `${readings.length} stored`);
}

function rudpDevice(t: TestContext, options: Partial<DeviceOptions> & Pick<DeviceOptions, 'port' | 'transport'>): { run: Promise<DeviceSummary>; events: DeviceEvent[]; device: SimulatedDevice } {
  const events: DeviceEvent[] = [];
  const d = new SimulatedDevice({
    id: 77, reliable: true, host: HOST, intervalMs: 10, batch: 9, session: 4242, drainMs: 30_000,
    simulation: MOSTLY_RELIABLE, onEvent: (e) => events.push(e), ...options,
  });
  t.after(() => d.finish());
  return { run: within(d.run(), 'the rudp device to finish', 90_000), events, device: d };
}

describe('rudp device against the real server', { timeout: 180_000 }, () => {
  it('through the relay at 30 % loss, 5 % duplication, 10 % reordering, 5±5 ms both ways: every reliable reading once, in order', async (t) => {
    let order: CommitOrder | undefined;
    const srv = await startSqliteServer(t, { wrap: (sqlite) => (order = new CommitOrder(sqlite)) });
    const store = order!;
    const relay = await startRelay({
      forwardHost: HOST, forwardPort: srv.udpPort, seed: 20261124,
      impairment: { loss: 0.3, duplicate: 0.05, reorder: 0.1, delayMs: 5, jitterMs: 5 },
    });
    t.after(() => relay.close());
    const tap = tapped();
    const rounds = 286; // 286 × 7 = 2,002 reliable readings
    const started = performance.now();
    const { run, events } = rudpDevice(t, { transport: tap.transport, port: relay.port, count: rounds * 9 });
    const s = await run;
    const seconds = (performance.now() - started) / 1000;
    const r = s.rudp!;
    t.diagnostic(
      `${seconds.toFixed(1)} s; ${s.messages.sent} READINGS, ${tap.sends()} datagrams sent, ${s.messages.retransmissions} retransmissions ` +
        `(${r.retransmissions.timeout} timeout, ${r.retransmissions.fast} fast, ${r.retransmissions.probe} probe, ${r.retransmissions.resync} resync); ` +
        `srtt ${r.srttMs?.toFixed(2)} ms, rto ${r.rtoMs.toFixed(0)} ms; ${s.bytes.sent} bytes sent; ${r.superseded} latest superseded, ${r.replaced} replaced; ` +
        `relay up ${relay.stats.up.dropped}/${relay.stats.up.received} dropped, down ${relay.stats.down.dropped}/${relay.stats.down.received}`,
    );
    assert.equal(s.readings.generated, rounds * 9);
    assert.equal(s.readings.unacknowledged, 0, JSON.stringify(s));
    assert.equal(r.gaveUp, 0);
    assert.ok(s.messages.retransmissions > 0 && relay.stats.up.dropped > 0, 'the loss was real and repaired');
    assert.deepEqual(tap.lateResends, [], 'nothing sent again once acknowledged');
    assert.ok(events.filter((e) => e.kind === 'retransmit').every((e) => e.kind === 'retransmit' && e.seq > e.cumulative));
    // Committed in seq order, each once.
    assert.deepEqual(store.seqs, [...store.seqs].sort((a, b) => a - b), 'commits out of seq order');
    assert.equal(new Set(store.seqs).size, store.seqs.length);
    const readings = await allReadings(store, 77);
    assertDelivered(readings, rounds, s);
    // Exactly the reliable readings the device sent, each once, in the order it sent them.
    const reliable = readings.filter((x) => !LATEST.has(x.sensor)).sort((a, b) => a.seq - b.seq || a.index - b.index);
    assert.equal(reliable.length, 2002);
    assert.deepEqual(reliable.map((x) => `${x.seq}:${x.sensor}:${x.ts}`), tap.reliableSent());
    assert.ok(seconds < 60, `took ${seconds.toFixed(1)} s`);
  });

  it('with --keys: every resend is signed and verified, a forgery and a replay are refused, nothing of them stored', async (t) => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
    const refusals: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void refusals.push(line.trim()) });
    const srv = await startSqliteServer(t, { keys: new Map([[77, key]]), log });
    const relay = await startRelay({
      forwardHost: HOST, forwardPort: srv.udpPort, seed: 77,
      impairment: { loss: 0.2, duplicate: 0.05, reorder: 0.1, delayMs: 2, jitterMs: 2 },
    });
    t.after(() => relay.close());
    const tap = tapped();
    const rounds = 60;
    // Temperature and humidity stay `latest`: their resends are rewritten (§7.7), so signed again.
    const s = await rudpDevice(t, { transport: tap.transport, port: relay.port, count: rounds * 9, key }).run;
    assert.deepEqual([s.readings.unacknowledged, s.readings.rejected, s.readings.dropped], [0, 0, 0], JSON.stringify(s.readings));
    assert.ok(s.messages.retransmissions > 0, 'the loss was real and repaired');
    // Only a copy of the HELLO that the relay duplicated or held back past the session's end may be
    // refused (REPLAY: it is one); nothing else the device sent.
    const refused = refusals.map((line) => JSON.parse(line) as { type: string; code: string });
    assert.deepEqual(refused.filter((r) => !(r.type === 'HELLO' && r.code === 'REPLAY')), [], 'nothing else the device sent was refused');
    const stored = await allReadings(srv.store, 77);
    assertDelivered(stored, rounds, s);

    // After the run: a READINGS signed with another key, and the device's first READINGS again,
    // byte for byte (its tag is right, its seq long acknowledged). Neither is stored.
    const raw = await RawUdpClient.open(t, srv.udpPort);
    const first = tap.firstReadings()!;
    const forged = decode(first, { maxMessageSize: Limits.MAX_UDP_MESSAGE });
    assert.equal(forged.type, 'READINGS');
    const wrongKey = Uint8Array.from({ length: 32 }, (_, i) => i);
    await raw.sendBytes(encode({ ...forged, seq: 60_000 }, { key: wrongKey, session: 4242, maxMessageSize: Limits.MAX_UDP_MESSAGE }));
    const refusal = await raw.next('the answer to the forgery', (m) => m.type === 'ERROR');
    assert.equal(refusal.type === 'ERROR' && refusal.code, ErrorCode.BAD_TAG);
    await raw.sendBytes(first);
    const replayAnswer = await raw.next('the answer to the replay', (m) => m.type === 'ACK' || m.type === 'ERROR');
    assert.ok(replayAnswer.type === 'ACK' && replayAnswer.status !== 'OK', `a replay is not taken as new: ${JSON.stringify(replayAnswer)}`);
    await srv.server.ingest.drain();
    assert.equal((await allReadings(srv.store, 77)).length, stored.length, 'nothing of the forgery or the replay stored');
  });

  it('a server killed mid-session and started again: the device sees the new epoch, resynchronises, and loses nothing', async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'restart.db');
    const args = ['--host', HOST, '--tcp-port', '0', '--db', db, '--log-level', 'warn'];
    const first = ServerProcess.start(t, [...args, '--udp-port', '0']);
    const { udpPort } = await first.listening();
    const rounds = 120;
    const { run, events, device } = rudpDevice(t, { transport: udp, port: udpPort, count: rounds * 9, intervalMs: 15 });
    await until(() => device.acknowledgedSoFar >= 200, 'the first readings to be acknowledged', 30_000);
    first.kill('SIGKILL');
    await first.exit('the killed server to exit');
    assert.ok(device.acknowledgedSoFar < rounds * 9, 'the device was not done when the server died');
    const second = ServerProcess.start(t, [...args, '--udp-port', String(udpPort)]);
    assert.equal((await second.listening()).udpPort, udpPort);
    const s = await run;
    second.kill('SIGTERM');
    assert.deepEqual(await second.exit('the restarted server to stop'), { code: 0, signal: null });

    const resyncs = events.filter((e) => e.kind === 'resync');
    assert.ok(resyncs.length >= 1, 'the device resynchronised');
    assert.ok(s.rudp!.resyncs >= 1 && s.rudp!.epoch !== null);
    assert.deepEqual([s.readings.generated, s.readings.unacknowledged, s.readings.rejected, s.readings.dropped], [rounds * 9, 0, 0, 0]);
    const store = openSqliteStore(db, { readonly: true });
    t.after(() => store.close());
    assertDelivered(await allReadings(store, 77), rounds, s);
  });
});

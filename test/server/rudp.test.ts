// The server's side of rudp (PROTOCOL.md §7), driven datagram by datagram from a raw UDP client:
// the epoch, cumulative and selective acknowledgements, commits in seq order, duplicates,
// the window, delayed acknowledgement, PING, BYE, RESYNC, the amplification limit, refusals,
// and a restart on the same database. Each expected absence of a reply is shown by the reply to
// a later message, never by waiting.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { ErrorCode, type Message, type MessageOf, type SensorSpec } from '../../src/protocol/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { silentLogger } from '../../src/log.ts';
import type { DeviceState } from '../../src/server/devices.ts';
import { ENDED_LINGER_MS, RudpState } from '../../src/server/rudp.ts';
import { startServer } from '../../src/server/run.ts';
import type { Link } from '../../src/transport/types.ts';
import { within } from '../support/wait.ts';
import { HOST, RawUdpClient, allReadings, startSqliteServer, tempDir } from './support.ts';
import { join } from 'node:path';

const DEVICE = 42;
const SESSION = 7;
const SENSORS: SensorSpec[] = [{ id: 1, type: 'int16', delivery: 'reliable', unit: '', name: 'door' }];

const hello = (seq: number, resumeSeq = seq, session = SESSION): Message => ({
  type: 'HELLO', deviceId: DEVICE, seq, reliable: true, session, resumeSeq, intervalMs: 1000, model: 'test', firmware: '1', sensors: SENSORS,
});
const readings = (seq: number, value = seq, deviceId = DEVICE): Message => ({
  type: 'READINGS', deviceId, seq, reliable: true, baseTime: 1_700_000_000_000, readings: [{ sensor: 1, delta: 0, type: 'int16', value }],
});
const rudpAck = (m: Message): m is MessageOf<'ACK'> => m.type === 'ACK' && m.rudp !== undefined;

/** The next reply, whatever it is, as an rudp ACK (fails on anything else). */
async function nextAck(c: RawUdpClient, what: string): Promise<MessageOf<'ACK'>> {
  const m = await c.next(what);
  assert.ok(rudpAck(m), `${what}: got ${JSON.stringify(m)}`);
  return m;
}

async function open(t: TestContext): Promise<{ c: RawUdpClient; s: Awaited<ReturnType<typeof startSqliteServer>> }> {
  const s = await startSqliteServer(t);
  const c = await RawUdpClient.open(t, s.udpPort);
  await c.send(hello(1));
  const ack = await nextAck(c, 'the ACK of HELLO');
  assert.equal(ack.ackSeq, 1);
  assert.equal(ack.status, 'OK');
  assert.equal(ack.rudp?.epoch, s.server.ingest.epoch);
  assert.equal(ack.rudp?.window, 64);
  assert.deepEqual(ack.rudp?.sack, []);
  return { c, s };
}

const storedSeqs = async (s: { store: Parameters<typeof allReadings>[0] }): Promise<number[]> =>
  (await allReadings(s.store, DEVICE)).map((r) => r.seq);

describe('rudp on the server', { timeout: 60_000 }, () => {
  it('acknowledges cumulatively, every second in-order message, and stores each once', async (t) => {
    const { c, s } = await open(t);
    await c.send(readings(2));
    await c.send(readings(3));
    // Usually one ACK for both (every second message), sent once both are committed; on a slow
    // machine the 10 ms delay may pass between the two and acknowledge 2 first.
    let ack = await nextAck(c, 'the ACK after two in-order READINGS');
    if (ack.ackSeq === 2) ack = await nextAck(c, 'the ACK of 3');
    assert.equal(ack.ackSeq, 3);
    assert.deepEqual(await storedSeqs(s), [2, 3]);
    assert.equal(s.server.ingest.stats.rudp.readingsStored, 2);
  });

  it('acknowledges a lone in-order message after the delay', async (t) => {
    const { c } = await open(t);
    const sent = Date.now();
    await c.send(readings(2));
    const ack = await nextAck(c, 'the delayed ACK');
    assert.equal(ack.ackSeq, 2);
    assert.ok(Date.now() - sent >= 5, 'the ACK of a lone in-order message is delayed (10 ms)');
  });

  it('buffers above a gap, acknowledges selectively at once, and commits in seq order when the gap fills', async (t) => {
    const { c, s } = await open(t);
    await c.send(readings(3));
    await c.send(readings(5));
    await c.send(readings(6));
    let ack = await nextAck(c, 'the ACK for 3 (a gap at 2)');
    assert.equal(ack.ackSeq, 1);
    assert.deepEqual(ack.rudp?.sack, [{ first: 3, last: 3 }]);
    ack = await nextAck(c, 'the ACK for 5');
    assert.deepEqual(ack.rudp?.sack, [{ first: 3, last: 3 }, { first: 5, last: 5 }]);
    ack = await nextAck(c, 'the ACK for 6');
    assert.deepEqual(ack.rudp?.sack, [{ first: 3, last: 3 }, { first: 5, last: 6 }]);
    assert.equal(ack.rudp?.window, 61);
    assert.deepEqual(await storedSeqs(s), [], 'nothing above a gap is committed');
    await c.send(readings(2));
    ack = await nextAck(c, 'the ACK once 2 filled the first gap');
    assert.equal(ack.ackSeq, 3);
    assert.deepEqual(ack.rudp?.sack, [{ first: 5, last: 6 }]);
    await c.send(readings(4));
    ack = await nextAck(c, 'the ACK once 4 filled the second gap');
    assert.equal(ack.ackSeq, 6);
    assert.deepEqual(ack.rudp?.sack, []);
    assert.equal(ack.rudp?.window, 64);
    const rows = await allReadings(s.store, DEVICE);
    assert.deepEqual(rows.map((r) => r.seq), [2, 3, 4, 5, 6]);
    assert.deepEqual(rows.map((r) => r.value), [2, 3, 4, 5, 6]);
    assert.ok(rows.every((r) => r.transport === 'rudp'));
  });

  it('discards a duplicate, counts it and acknowledges it at once', async (t) => {
    const { c, s } = await open(t);
    await c.send(readings(2));
    await nextAck(c, 'the ACK of 2');
    await c.send(readings(2, 999)); // a retransmission (even with other bytes) stores nothing
    const ack = await nextAck(c, 'the ACK of the duplicate');
    assert.equal(ack.status, 'DUPLICATE');
    assert.equal(ack.ackSeq, 2);
    await c.send(hello(1)); // the HELLO again: also a duplicate
    assert.equal((await nextAck(c, 'the ACK of the repeated HELLO')).status, 'DUPLICATE');
    // The next new message is acknowledged OK: the status belongs to the ACK that carried it.
    await c.send({ type: 'PING', deviceId: DEVICE, seq: 3, reliable: true });
    await c.next('the PONG');
    const after = await nextAck(c, 'the ACK of the PING');
    assert.deepEqual([after.ackSeq, after.status], [3, 'OK']);
    const rows = await allReadings(s.store, DEVICE);
    assert.deepEqual(rows.map((r) => r.value), [2]);
    assert.equal(s.server.ingest.stats.rudp.duplicates, 2);
  });

  it('drops a message more than the window above the point unread', async (t) => {
    const { c, s } = await open(t);
    await c.send(readings(1 + 65)); // the point is 1: 66 is outside
    await c.send(readings(1 + 64)); // 65 is the last seq inside
    const ack = await nextAck(c, 'the ACK of 65');
    assert.deepEqual(ack.rudp?.sack, [{ first: 65, last: 65 }], 'nothing of 66 was kept');
    assert.equal(ack.rudp?.window, 63);
    assert.equal(c.inbox.got.length, 2, 'no reply to 66');
    assert.deepEqual(await storedSeqs(s), []);
  });

  it('answers PING with PONG and an ACK at once', async (t) => {
    const { c } = await open(t);
    await c.send({ type: 'PING', deviceId: DEVICE, seq: 2, reliable: true });
    const pong = await c.next('the PONG');
    assert.ok(pong.type === 'PONG' && pong.pingSeq === 2 && pong.reliable === true, JSON.stringify(pong));
    assert.equal((await nextAck(c, 'the ACK of the PING')).ackSeq, 2);
  });

  it('acknowledges BYE once everything before it is handled, then keeps only what answers that BYE again', async (t) => {
    const { c, s } = await open(t);
    await c.send(readings(2));
    await c.send({ type: 'BYE', deviceId: DEVICE, seq: 3, reliable: true, reason: 0 });
    // The ACK of the BYE covers it (and 2); it may come as one or after the ACK of 2.
    let ack = await nextAck(c, 'an ACK after BYE');
    if (ack.ackSeq < 3) ack = await nextAck(c, 'the ACK of BYE');
    assert.equal(ack.ackSeq, 3);
    assert.equal(s.server.ingest.rudpSessions, 0);
    // The BYE again (its ACK was lost): the BYE's ACK again, DUPLICATE, window 0, not RESYNC.
    const duplicates = s.server.ingest.stats.rudp.duplicates;
    await c.send({ type: 'BYE', deviceId: DEVICE, seq: 3, reliable: true, reason: 0 });
    const reAck = await nextAck(c, "the BYE's ACK again");
    assert.deepEqual([reAck.status, reAck.ackSeq, reAck.rudp?.window, reAck.rudp?.sack], ['DUPLICATE', 3, 0, []]);
    assert.equal(s.server.ingest.stats.rudp.duplicates, duplicates + 1);
    assert.equal(s.server.ingest.rudpSessions, 0);
    // Anything else, even at or below the BYE's seq, is answered RESYNC: the server cannot tell
    // a late copy of the old session from a message of a new one (messages carry no session).
    for (const other of [readings(2, 999), { type: 'PING', deviceId: DEVICE, seq: 3, reliable: true } as const]) {
      await c.send(other);
      assert.equal((await nextAck(c, `the answer to ${other.type} ${other.seq}`)).status, 'RESYNC');
    }
    // Beyond the BYE: the session is over, so RESYNC.
    await c.send(readings(4));
    const resync = await nextAck(c, 'RESYNC after the session ended');
    assert.equal(resync.status, 'RESYNC');
    assert.deepEqual(await storedSeqs(s), [2]);
  });

  it('a new session within 30 s of a BYE opens as usual and its readings are stored', async (t) => {
    const { c, s } = await open(t);
    await c.send({ type: 'BYE', deviceId: DEVICE, seq: 2, reliable: true, reason: 0 });
    assert.equal((await nextAck(c, 'the ACK of BYE')).ackSeq, 2);
    // The next session numbers from 1 again; its HELLO ends the memory of the old one.
    await c.send(hello(1, 1, SESSION + 1));
    const ack = await nextAck(c, 'the ACK of the new HELLO');
    assert.deepEqual([ack.status, ack.ackSeq], ['OK', 1]);
    await c.send(readings(2, 77));
    await c.send({ type: 'BYE', deviceId: DEVICE, seq: 3, reliable: true, reason: 0 });
    let last = await nextAck(c, 'an ACK in the new session');
    if (last.ackSeq < 3) last = await nextAck(c, 'the ACK of the new BYE');
    assert.deepEqual([last.status, last.ackSeq], ['OK', 3]);
    const stored = await allReadings(s.store, DEVICE);
    assert.deepEqual(stored.map((r) => [r.session, r.seq, r.value]), [[SESSION + 1, 2, 77]]);
  });

  it('asks a device it holds no state for to resynchronise, and takes nothing of its message', async (t) => {
    const s = await startSqliteServer(t);
    const c = await RawUdpClient.open(t, s.udpPort);
    await c.send(readings(5));
    const ack = await nextAck(c, 'RESYNC');
    assert.equal(ack.status, 'RESYNC');
    assert.equal(ack.ackSeq, 0);
    assert.equal(ack.rudp?.epoch, s.server.ingest.epoch);
    assert.deepEqual(ack.rudp?.sack, []);
    assert.deepEqual(await storedSeqs(s), []);
  });

  it('sends an address that has not said HELLO at most 3× the bytes it received', async (t) => {
    const s = await startSqliteServer(t);
    const c = await RawUdpClient.open(t, s.udpPort);
    // A 5-byte PING of an unknown device would be answered by a RESYNC ACK of about 20 bytes.
    await c.send({ type: 'PING', deviceId: 99, seq: 1, reliable: true });
    await c.send(readings(2, 2, 99));
    const ack = await nextAck(c, 'the RESYNC within the budget');
    assert.equal(ack.ackSeq, 0);
    assert.equal(c.inbox.got.length, 1, 'the PING got no reply');
    assert.equal(s.server.ingest.stats.rudp.unanswered, 1);
    assert.ok(c.sizes[0]! <= 3 * (5 + 9 + 4), `${c.sizes[0]} bytes sent`);
    // Once validated by a HELLO, replies are no longer limited.
    await c.send(hello(1));
    assert.equal((await nextAck(c, 'the ACK of HELLO')).ackSeq, 1);
  });

  it('refuses a READINGS with an undeclared sensor and lets the point pass it', async (t) => {
    const { c, s } = await open(t);
    await c.send({ ...readings(2), readings: [{ sensor: 9, delta: 0, type: 'int16', value: 1 }] } as Message);
    const error = await c.next('ERROR UNKNOWN_SENSOR');
    assert.ok(error.type === 'ERROR' && error.code === ErrorCode.UNKNOWN_SENSOR && error.refSeq === 2, JSON.stringify(error));
    await c.send(readings(3));
    let ack = await nextAck(c, 'an ACK past the refused message');
    if (ack.ackSeq < 3) ack = await nextAck(c, 'the ACK of 3');
    assert.equal(ack.ackSeq, 3);
    assert.deepEqual(await storedSeqs(s), [3]);
  });

  it('after a restart: a new epoch, RESYNC, and a resend acknowledged as a duplicate', async (t) => {
    const dir = tempDir(t);
    const dbPath = join(dir, 'readings.db');
    const first = await startServer({ host: HOST, tcpPort: 0, udpPort: 0, store: openSqliteStore(dbPath), log: silentLogger() });
    let c = await RawUdpClient.open(t, first.udp.port);
    await c.send(hello(1));
    const epoch1 = (await nextAck(c, 'the ACK of HELLO')).rudp?.epoch;
    await c.send(readings(2));
    await nextAck(c, 'the ACK of 2'); // the device "lost" this ACK: it still holds 2
    await within(first.close(), 'the first server to close');

    const store = openSqliteStore(dbPath);
    const second = await startServer({ host: HOST, tcpPort: 0, udpPort: 0, store, log: silentLogger() });
    t.after(() => within(second.close(), 'the second server to close'));
    c = await RawUdpClient.open(t, second.udp.port);
    await c.send(readings(2));
    const resync = await nextAck(c, 'RESYNC from the new server');
    assert.equal(resync.status, 'RESYNC');
    assert.notEqual(resync.rudp?.epoch, epoch1);
    await c.send(hello(3, 2));
    let ack = await nextAck(c, 'the ACK of the new HELLO');
    assert.equal(ack.rudp?.epoch, second.ingest.epoch);
    assert.equal(ack.ackSeq, 1);
    assert.deepEqual(ack.rudp?.sack, [{ first: 3, last: 3 }]);
    await c.send(readings(2));
    ack = await nextAck(c, 'the ACK of the resent READINGS');
    assert.equal(ack.status, 'DUPLICATE');
    assert.equal(ack.ackSeq, 3);
    const rows = await allReadings(store, DEVICE);
    assert.deepEqual(rows.map((r) => r.seq), [2]);
  });
});

describe('RudpState: sessions ended by BYE', () => {
  const link = {} as Link; // held, never used, by the state
  const device = {} as DeviceState;
  const ended = (state: RudpState, deviceId: number, byeSeq: number, at: number): void => {
    const peer = state.open(deviceId, SESSION, 1, link, device);
    peer.byeSeq = byeSeq;
    state.end(peer, at);
  };

  it('remembers the BYE seq for the linger time, then forgets it', () => {
    const state = new RudpState();
    ended(state, 1, 9, 1_000);
    assert.equal(state.get(1), undefined, 'the live state is gone');
    assert.deepEqual(state.ended(1, 1_000 + ENDED_LINGER_MS - 1), { byeSeq: 9, until: 1_000 + ENDED_LINGER_MS });
    assert.equal(state.ended(1, 1_000 + ENDED_LINGER_MS), undefined);
    assert.equal(state.ended(1, 1_000), undefined, 'forgotten, not only hidden');
  });

  it('forgets expired sessions as others end, and a new session replaces the memory of the old', () => {
    const state = new RudpState();
    ended(state, 1, 5, 0);
    ended(state, 2, 6, ENDED_LINGER_MS + 1); // device 1's has expired by now: dropped on the way
    assert.equal(state.ended(1, 0), undefined);
    assert.equal(state.ended(2, ENDED_LINGER_MS + 1)?.byeSeq, 6);
    state.open(2, SESSION + 1, 1, link, device);
    assert.equal(state.ended(2, ENDED_LINGER_MS + 1), undefined);
  });
});

// SimulatedDevice over rudp against a scripted peer on real UDP sockets (see rudp-peer.ts): the
// peer loses chosen datagrams each way, forgets its sessions, changes its epoch, carries a CONFIG;
// the device must deliver every READINGS exactly once and in order, and resend only what is
// unacknowledged.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { SimulatedDevice, type DeviceEvent, type DeviceOptions, type DeviceSummary } from '../../src/device/device.ts';
import type { SimulationOptions } from '../../src/device/sensors.ts';
import type { Message } from '../../src/protocol/index.ts';
import { udp } from '../../src/transport/index.ts';
import { within } from '../support/wait.ts';
import { ScriptedPeer, type PeerScript } from './rudp-peer.ts';

/** Every sensor `reliable`: a resend carries the same bytes (§7.7 has a test of its own). */
const ALL_RELIABLE: SimulationOptions = {
  delivery: Object.fromEntries(['temperature', 'humidity', 'pressure', 'battery', 'rssi', 'position', 'uptime'].map((n) => [n, 'reliable' as const])),
};

function device(
  t: TestContext, peer: ScriptedPeer, options: Partial<DeviceOptions> = {},
): { run: Promise<DeviceSummary>; events: DeviceEvent[]; device: SimulatedDevice } {
  const events: DeviceEvent[] = [];
  const d = new SimulatedDevice({
    id: 21, transport: udp, reliable: true, host: '127.0.0.1', port: peer.port, intervalMs: 2, batch: 3, count: 60, session: 9,
    drainMs: 10_000, simulation: ALL_RELIABLE, onEvent: (e) => events.push(e), ...options,
  });
  t.after(() => d.finish());
  return { run: within(d.run(), 'the device to finish', 30_000), events, device: d };
}

async function withPeer(t: TestContext, script: PeerScript = {}): Promise<ScriptedPeer> {
  return ScriptedPeer.start(t, script);
}

const isReadings = (m: Message): boolean => m.type === 'READINGS';

/** Every generated reading stored once, in the order taken (sensor samples by time, seqs ascending). */
function assertAllStoredInOrder(peer: ScriptedPeer, s: DeviceSummary): void {
  const keys = peer.stored.map((r) => `${r.seq}/${r.index}`);
  assert.equal(new Set(keys).size, keys.length, 'a reading stored twice');
  const seqs = peer.stored.map((r) => r.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'stored out of seq order');
  assert.equal(peer.stored.length, s.readings.acknowledged);
}

describe('SimulatedDevice over rudp, against a scripted peer', { timeout: 120_000 }, () => {
  it('delivers everything once, in order, with RELIABLE on every message and consecutive seqs', async (t) => {
    const peer = await withPeer(t);
    const { run } = device(t, peer);
    const s = await run;
    assert.equal(s.transport, 'rudp');
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged, s.readings.superseded], [60, 60, 0, 0]);
    assert.equal(s.messages.retransmissions, 0);
    assertAllStoredInOrder(peer, s);
    const arrivals = peer.seen();
    assert.ok(arrivals.every((a) => a.message.type === 'ACK' || a.message.reliable === true), 'RELIABLE on every message');
    assert.deepEqual(arrivals.map((a) => a.message.seq), arrivals.map((_, i) => i + 1), 'seqs 1, 2, 3, … whatever the type');
    assert.deepEqual([arrivals[0]!.message.type, arrivals.at(-1)!.message.type], ['HELLO', 'BYE']);
    assert.ok(s.rudp && s.rudp.srttMs !== null && s.rudp.rtoMs >= 50, JSON.stringify(s.rudp));
    assert.ok(s.rtt && s.rtt.samples > 0);
  });

  it('sampling done before the HELLO is acknowledged: BYE still goes right behind the readings, one ACK covers both', async (t) => {
    // The first HELLO is lost, so the device has taken its only round of readings long before
    // the HELLO's resend is acknowledged. It must not wait for the readings' own (delayed) ACK
    // before it says BYE: READINGS and BYE leave together and the BYE's ACK covers both.
    const peer = await withPeer(t, { dropIn: (m, copy) => m.type === 'HELLO' && copy === 1 });
    const { run } = device(t, peer, { count: 3 });
    const s = await run;
    assert.deepEqual([s.readings.acknowledged, s.readings.unacknowledged], [3, 0]);
    assert.deepEqual(peer.seen().map((a) => a.message.type), ['HELLO', 'READINGS', 'BYE']);
    // The BYE left before any ACK of the readings came back (before the fix it waited for one).
    assert.equal(peer.seen('BYE')[0]!.acksBefore, 1, 'when the BYE arrived, only the HELLO had been acknowledged');
    assert.equal(peer.acks.at(-1)!.ackSeq, 3);
  });

  it('loss both ways: lost READINGS and lost ACKs are repaired; all stored once, in order; nothing resent once acknowledged', async (t) => {
    // The first copy of every fifth READINGS and every third ACK are lost.
    const peer = await withPeer(t, {
      dropIn: (m, copy) => m.type === 'READINGS' && m.seq % 5 === 0 && copy === 1,
      dropOut: (m) => m.type === 'ACK' && m.seq % 3 === 0,
    });
    const { run, events } = device(t, peer, { count: 90 });
    const s = await run;
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged], [90, 90, 0]);
    assertAllStoredInOrder(peer, s);
    assert.equal(peer.stored.length, 90);
    const lost = peer.arrivals.filter((a) => a.dropped).map((a) => a.message.seq);
    assert.ok(lost.length >= 5);
    for (const seq of lost) assert.ok(peer.seen().some((a) => a.message.seq === seq), `seq ${seq} arrived in the end`);
    assert.ok(s.messages.retransmissions >= lost.length);
    for (const e of events) if (e.kind === 'retransmit') assert.ok(e.seq > e.cumulative, `seq ${e.seq} resent at cumulative ${e.cumulative}`);
    // The bytes sent count every datagram, resends included.
    assert.equal(s.bytes.sent, peer.arrivals.reduce((n, a) => n + a.bytes.length, 0));
  });

  it('fast retransmit: a READINGS lost while later ones arrive is sent again on the ranges, before its timer', async (t) => {
    const peer = await withPeer(t, { dropIn: (m, copy) => m.type === 'READINGS' && m.seq === 4 && copy === 1 });
    // Batches of one reading, all taken at once: many messages in flight behind seq 4.
    const { run, events } = device(t, peer, { batch: 1, count: 27, intervalMs: 1 });
    const s = await run;
    assert.deepEqual([s.readings.acknowledged, s.readings.unacknowledged], [27, 0]);
    const resend = events.find((e) => e.kind === 'retransmit' && e.seq === 4);
    assert.ok(resend && resend.kind === 'retransmit' && resend.reason === 'fast', JSON.stringify(resend));
    assert.ok(s.rudp!.retransmissions.fast >= 1);
    assertAllStoredInOrder(peer, s);
  });

  it('a peer that forgets the session answers RESYNC: HELLO with the lowest seq held, everything held again, nothing stored twice', async (t) => {
    let forgot = false;
    const peer = await withPeer(t, {
      // Forget on the first arrival of READINGS seq 8, unread: it is answered RESYNC.
      dropIn: (m) => {
        if (!forgot && m.type === 'READINGS' && m.seq === 8) {
          forgot = true;
          peer.forget();
        }
        return false;
      },
    });
    const { run, events } = device(t, peer, { count: 60 });
    const s = await run;
    const resync = events.find((e) => e.kind === 'resync');
    assert.ok(resync && resync.kind === 'resync' && resync.reason === 'RESYNC', JSON.stringify(events.filter((e) => e.kind !== 'ack')));
    const hellos = peer.seen('HELLO').map((a) => a.message as Extract<Message, { type: 'HELLO' }>);
    assert.equal(hellos.length, 2);
    assert.equal(hellos[1]!.resumeSeq, resync.resumeSeq);
    assert.ok(hellos[1]!.resumeSeq <= 8);
    assert.deepEqual([s.readings.acknowledged, s.readings.unacknowledged, s.rudp!.resyncs], [60, 0, 1]);
    assertAllStoredInOrder(peer, s);
    assert.equal(peer.stored.length, 60);
  });

  it('a peer that restarts with a new epoch: the device takes it, resynchronises and resends with the original seqs', async (t) => {
    let restarted = false;
    const peer = await withPeer(t, {
      dropIn: (m) => {
        if (!restarted && m.type === 'READINGS' && m.seq === 10) {
          restarted = true;
          peer.restart();
        }
        return false;
      },
    });
    const { run, events } = device(t, peer, { count: 60 });
    const s = await run;
    assert.equal(s.rudp!.epoch, peer.epoch);
    assert.ok(events.some((e) => e.kind === 'resync'));
    const readingsSeqs = peer.seen('READINGS').map((a) => a.message.seq);
    assert.ok(new Set(readingsSeqs).size < readingsSeqs.length, 'some READINGS were sent again');
    assert.deepEqual([s.readings.acknowledged, s.readings.unacknowledged], [60, 0]);
    assertAllStoredInOrder(peer, s);
  });

  it('§7.7 on the wire: a READINGS sent again carries its reliable readings unchanged and none of its stale latest ones', async (t) => {
    // Every first copy of seq 3 is lost, and its resends too until seq 12 has arrived: by then
    // newer samples of every latest sensor have been sent.
    const peer = await withPeer(t, {
      dropIn: (m) => m.type !== 'HELLO' && m.seq === 3 && !peer.seen().some((a) => a.message.seq >= 12),
    });
    const { run } = device(t, peer, { batch: 9, count: 135, intervalMs: 5, simulation: {} });
    const s = await run;
    const copies = peer.arrivals.filter((a) => a.message.seq === 3);
    const first = copies[0]!.message;
    const last = copies.at(-1)!.message;
    assert.equal(first.type, 'READINGS');
    assert.ok(copies.length >= 2);
    const reliable = (m: Message): unknown[] => (m.type === 'READINGS' ? m.readings.filter((r) => r.sensor === 6 || r.sensor === 9).map((r) => [r.sensor, m.baseTime + r.delta, r.value]) : []);
    assert.equal(last.type, 'READINGS', 'door and status are reliable: they stay');
    assert.deepEqual(reliable(last), reliable(first));
    assert.ok(last.type === 'READINGS' && last.readings.every((r) => r.sensor === 6 || r.sensor === 9), 'no stale latest reading');
    assert.ok(copies.at(-1)!.bytes.length < copies[0]!.bytes.length);
    assert.ok(s.readings.superseded >= 7);
    assert.equal(s.readings.acknowledged + s.readings.superseded, s.readings.generated);
    assert.equal(s.readings.unacknowledged, 0);
  });

  it('a CONFIG on an ACK is applied and acknowledged with an ACK that takes a seq and carries RELIABLE and the epoch', async (t) => {
    let offered = false;
    const peer = await withPeer(t, {
      config: (ack) => {
        if (offered || ack.ackSeq < 4) return undefined;
        offered = true;
        return { configId: 3, intervalMs: 4, enable: [], disable: [7] };
      },
    });
    const { run, events } = device(t, peer, { count: 60 });
    const s = await run;
    assert.equal(s.configsApplied, 1);
    assert.ok(events.some((e) => e.kind === 'config' && e.disabled.includes('position')));
    const configAck = peer.seen('ACK');
    assert.equal(configAck.length, 1);
    const m = configAck[0]!.message as Extract<Message, { type: 'ACK' }>;
    assert.equal(m.ackSeq, peer.acks.find((a) => a.config)!.seq);
    assert.deepEqual(m.rudp, { epoch: peer.epoch, window: 64, sack: [] });
    const seqs = peer.seen().map((a) => a.message.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'the ACK took its place in the seqs');
    assert.ok(peer.stored.every((r) => r.seq < m.seq || r.reading.sensor !== 7), 'position off after the CONFIG');
  });
});

// SimulatedDevice over rudp against a scripted peer on real UDP sockets (see rudp-peer.ts): the
// peer loses chosen datagrams each way, forgets its sessions, changes its epoch, carries a CONFIG;
// the device must deliver every READINGS exactly once and in order, and resend only what is
// unacknowledged.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { SimulatedDevice, type DeviceEvent, type DeviceOptions, type DeviceSummary } from '../../src/device/device.ts';
import type { Message } from '../../src/protocol/index.ts';
import { udp } from '../../src/transport/index.ts';
import { within } from '../support/wait.ts';
import { ScriptedPeer, type PeerScript } from './rudp-peer.ts';

function device(
  t: TestContext, peer: ScriptedPeer, options: Partial<DeviceOptions> = {},
): { run: Promise<DeviceSummary>; events: DeviceEvent[]; device: SimulatedDevice } {
  const events: DeviceEvent[] = [];
  const d = new SimulatedDevice({
    id: 21, transport: udp, reliable: true, host: '127.0.0.1', port: peer.port, intervalMs: 2, batch: 3, count: 60, session: 9,
    drainMs: 10_000, onEvent: (e) => events.push(e), ...options,
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
});

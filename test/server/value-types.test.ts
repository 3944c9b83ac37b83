// Every value type of PROTOCOL.md §5, edge values included, sent by a hand-made client (a raw
// socket and the codec) over TCP and over UDP to an in-process server on a SQLite file. The ACK
// leaves only after the commit (the store's commit is held shut while a PING overtakes it), its
// fields are plausible, and what the store gives back equals what was sent.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  VALUE_TYPE_NAMES, ValueType, decode, encode,
  type Message, type MessageOf, type Reading, type SensorSpec,
} from '../../src/protocol/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { StoredReading } from '../../src/store/types.ts';
import {
  GatedStore, RawTcpClient, RawUdpClient, ackOf, allReadings, isType, startSqliteServer,
} from './support.ts';

const DEVICE = 4242;
const SESSION = 1_795_000_000;

/** One sensor per value type; its id is the type's code. Units and names exercise UTF-8. */
const CATALOGUE: SensorSpec[] = VALUE_TYPE_NAMES.map((type) => ({
  id: ValueType[type],
  type,
  delivery: type === 'bool' ? 'reliable' : 'latest',
  unit: type === 'float32' ? '°C' : type === 'geo' ? 'deg' : '',
  name: `${type} ✓ 温度`,
}));

const r = <T extends Reading['type']>(type: T, value: (Reading & { type: T })['value'], delta = 0): Reading =>
  ({ sensor: ValueType[type], delta, type, value }) as Reading;

const ALL_BYTES = Uint8Array.from({ length: 255 }, (_, i) => (i * 7 + 3) & 0xff);

/** At least one reading of each of the 15 types, with their edge values. */
const READINGS: Reading[] = [
  r('bool', true), r('bool', false),
  r('int8', -128), r('int8', 127),
  r('int16', -32768), r('int16', 32767),
  r('int32', -2147483648), r('int32', 2147483647),
  r('int64', -(2n ** 63n)), r('int64', 2n ** 63n - 1n), r('int64', 0n),
  r('uint8', 0), r('uint8', 255),
  r('uint16', 65535),
  r('uint32', 4294967295),
  r('uint64', 2n ** 64n - 1n), r('uint64', 0n),
  r('float32', -0), r('float32', Infinity), r('float32', -Infinity), r('float32', NaN),
  r('float32', Math.fround(0.1)), r('float32', 3.4028234663852886e38), r('float32', 1.401298464324817e-45),
  r('float64', -0), r('float64', Infinity), r('float64', -Infinity), r('float64', NaN),
  r('float64', Number.MAX_VALUE), r('float64', Number.MIN_VALUE), r('float64', 0.1),
  r('string', ''), r('string', 'unicode: 温度 °C 🌡️ é ß \u0000 end'), r('string', 'é'.repeat(127)),
  r('bytes', new Uint8Array(0)), r('bytes', ALL_BYTES), r('bytes', Uint8Array.of(0, 0xff)),
  r('timestamp', -(2n ** 63n)), r('timestamp', 2n ** 63n - 1n), r('timestamp', 1_700_000_000_123_456n),
  r('geo', { lat: 90, lon: 180 }), r('geo', { lat: -90, lon: -180 }), r('geo', { lat: 0, lon: 0 }),
  r('geo', { lat: 40.4167754, lon: -3.7037902 }), r('geo', { lat: -0.0000001, lon: 179.9999999 }),
  // Deltas: the largest varint too.
  r('uint8', 1, 1), r('uint8', 2, 0xffff_ffff),
];

function hello(seq: number): MessageOf<'HELLO'> {
  return {
    type: 'HELLO', deviceId: DEVICE, seq, session: SESSION, resumeSeq: seq, intervalMs: 1000,
    model: 'hand-made ✓', firmware: '0.0.1', sensors: CATALOGUE,
  };
}

/** What a reading's value is after the trip through the wire (e.g. 0.1 as a float32). */
function wireReadings(m: MessageOf<'READINGS'>): readonly Reading[] {
  const back = decode(encode(m));
  assert.ok(back.type === 'READINGS');
  return back.readings;
}

function assertSameValue(stored: StoredReading, sent: Reading, where: string): void {
  assert.equal(stored.type, sent.type, where);
  if (typeof sent.value === 'number') {
    // Object.is tells -0 from 0 and NaN equals NaN.
    assert.ok(Object.is(stored.value, sent.value), `${where}: stored ${String(stored.value)}, sent ${String(sent.value)}`);
  } else {
    assert.deepEqual(stored.value, sent.value, where);
  }
}

interface Client {
  send(m: Message): Promise<void> | void;
  next(what: string, match?: (m: Message) => boolean, ms?: number): Promise<Message>;
  readonly got: readonly Message[];
}

async function everyValueType(t: TestContext, kind: 'tcp' | 'udp'): Promise<void> {
  let gated: GatedStore | undefined;
  const { server, dbPath, tcpPort, udpPort } = await startSqliteServer(t, { wrap: (s) => (gated = new GatedStore(s)) });
  const store = gated!;
  let client: Client;
  if (kind === 'tcp') {
    const c = await RawTcpClient.connect(t, tcpPort);
    client = { send: (m) => c.send(m), next: (w, p, ms) => c.nextOpen(w, p, ms), got: c.inbox.got };
  } else {
    const c = await RawUdpClient.open(t, udpPort);
    client = { send: (m) => c.send(m), next: (w, p, ms) => c.next(w, p, ms), got: c.inbox.got };
  }

  // HELLO → ACK OK for seq 1.
  await client.send(hello(1));
  const helloAck = await client.next('the HELLO ACK', ackOf(1));
  assert.ok(helloAck.type === 'ACK');
  assert.equal(helloAck.status, 'OK');
  assert.equal(helloAck.deviceId, DEVICE);
  assert.equal(helloAck.config, undefined);
  assert.equal(store.calls.length, 0, 'a HELLO commits no readings');

  // READINGS seq 2, with the commit held shut: a PING sent after it is answered first.
  const baseTime = Date.now() - 5000;
  const readings: MessageOf<'READINGS'> = { type: 'READINGS', deviceId: DEVICE, seq: 2, baseTime, readings: READINGS };
  assert.ok(encode(readings).length <= 1200, 'the test message fits a datagram');
  store.shut();
  const sentAt = Date.now();
  await client.send(readings);
  await client.send({ type: 'PING', deviceId: DEVICE, seq: 3 });
  const pong = await client.next('the PONG', isType('PONG'));
  assert.ok(pong.type === 'PONG' && pong.pingSeq === 3);
  assert.equal(store.calls.length, 1, 'the READINGS reached the store');
  assert.equal(client.got.filter(ackOf(2)).length, 0, 'no ACK while the commit is held');
  const releasedAt = Date.now();
  store.release();
  const ack = await client.next('the READINGS ACK', ackOf(2));
  const ackAt = Date.now();
  assert.ok(ack.type === 'ACK');
  assert.equal(store.doneAt.length, 1, 'the commit returned before the ACK');

  // ACK fields.
  assert.equal(ack.status, 'OK');
  assert.equal(ack.ackSeq, 2);
  assert.equal(ack.deviceId, DEVICE);
  assert.equal(ack.rudp, undefined);
  assert.ok(ack.seq > helloAck.seq, 'the server numbers its messages upward');
  assert.ok(ack.rxTime >= sentAt - 1 && ack.rxTime <= store.calledAt[0]! + 1, `rxTime ${ack.rxTime} not in [${sentAt}, ${store.calledAt[0]}]`);
  const holdMs = ack.holdUs / 1000;
  assert.ok(holdMs >= releasedAt - store.calledAt[0]! - 2, `hold ${holdMs} ms is shorter than the commit was held`);
  assert.ok(holdMs <= ackAt - sentAt + 2, `hold ${holdMs} ms is longer than the round trip`);

  // What the store holds equals what was sent.
  const sent = wireReadings(readings);
  const stored = await allReadings(store);
  assert.equal(stored.length, READINGS.length);
  stored.forEach((s, i) => {
    const where = `reading ${i}`;
    const want = sent[i]!;
    assert.equal(s.device, DEVICE, where);
    assert.equal(s.session, SESSION, where);
    assert.equal(s.seq, 2, where);
    assert.equal(s.index, i, where);
    assert.equal(s.sensor, want.sensor, where);
    assert.equal(s.ts, baseTime + want.delta, where);
    assert.equal(s.transport, kind, where);
    assert.equal(s.receivedAt, ack.rxTime, where);
    const spec = CATALOGUE.find((c) => c.id === want.sensor)!;
    assert.equal(s.name, spec.name, where);
    assert.equal(s.unit, spec.unit, where);
    assertSameValue(s, want, where);
  });
  // Spot checks against the literal edge values (not only through the codec).
  const byType = (type: string): StoredReading[] => stored.filter((s) => s.type === type);
  assert.ok(Object.is(byType('float32')[0]!.value, -0));
  assert.ok(Number.isNaN(byType('float64')[3]!.value));
  assert.equal(byType('int64')[0]!.value, -(2n ** 63n));
  assert.equal(byType('uint64')[0]!.value, 2n ** 64n - 1n);
  assert.deepEqual(byType('geo')[1]!.value, { lat: -90, lon: -180 });
  assert.deepEqual(byType('bytes')[0]!.value, new Uint8Array(0));
  assert.equal(byType('string')[1]!.value, 'unicode: 温度 °C 🌡️ é ß \u0000 end');
  assert.equal(new Set(stored.map((s) => s.type)).size, 15, 'all 15 value types stored');

  // The same READINGS again: ACK DUPLICATE, nothing stored twice.
  await client.send(readings);
  const dup = await client.next('the DUPLICATE ACK', ackOf(2));
  assert.ok(dup.type === 'ACK' && dup.status === 'DUPLICATE');
  assert.equal((await allReadings(store)).length, READINGS.length);
  assert.equal(server.ingest.stats[kind].readingsStored, READINGS.length);
  assert.equal(server.ingest.stats[kind].duplicates, 1);

  // And after the server has closed, a fresh connection to the file reads the same.
  await server.close();
  const again = openSqliteStore(dbPath, { readonly: true });
  t.after(() => again.close());
  const reread = await allReadings(again);
  assert.equal(reread.length, READINGS.length);
  reread.forEach((s, i) => assertSameValue(s, sent[i]!, `re-read reading ${i}`));
}

describe('every value type reaches the store intact', { timeout: 120_000 }, () => {
  it('over TCP', async (t) => {
    await everyValueType(t, 'tcp');
  });

  it('over UDP', async (t) => {
    await everyValueType(t, 'udp');
  });
});

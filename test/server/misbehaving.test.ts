// Misbehaving clients, all at once, while good TCP and UDP devices carry on (PROTOCOL.md §2,
// §6.4, §6.5): random bytes on TCP, a 2 GB frame announced, a silent connection, garbage
// datagrams of every size, a HELLO-less READINGS, a READINGS with an undeclared sensor. Each gets
// the ERROR its input calls for (or, for small datagrams, no reply at all); the good devices
// finish with every reading acknowledged and stored; the server's counters add up.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Fleet } from '../../src/device/fleet.ts';
import { ErrorCode, encode, encodeFrame, type Message } from '../../src/protocol/index.ts';
import { createRandom } from '../../src/device/random.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { tcp, udp } from '../../src/transport/index.ts';
import { connect as netConnect } from 'node:net';
import { until, within } from '../support/wait.ts';
import {
  AckLog, HOST, RawTcpClient, RawUdpClient, allReadings, checkStore, checkSummaries, errorFor, isType, startSqliteServer,
} from './support.ts';

const IDLE_MS = 400;
const isError = (m: Message): boolean => m.type === 'ERROR';
const errorCode = (m: Message): number => (m.type === 'ERROR' ? m.code : -1);

function garbage(seed: number, length: number): Uint8Array {
  const random = createRandom(seed);
  return Uint8Array.from({ length }, () => Math.floor(random.next() * 256));
}

/** Random bytes on TCP: an ERROR with a decoder code (1–14), then the server closes. */
async function tcpGarbage(t: TestContext, port: number): Promise<void> {
  const c = await RawTcpClient.connect(t, port);
  // More than a whole largest frame, so any length prefix the bytes happen to start with completes.
  c.sendRaw(garbage(7, 20_000));
  const error = await c.next('an ERROR for random bytes', isError);
  assert.ok(errorCode(error) >= 1 && errorCode(error) <= 14, `code ${errorCode(error)}`);
  await within(c.closed, 'the server to close the garbage connection');
  assert.equal(c.bad.length, 0);
}

/** A 2 GB frame announced: refused from the prefix alone, before any of its bytes arrive. */
async function hugeFrame(t: TestContext, port: number): Promise<void> {
  const c = await RawTcpClient.connect(t, port);
  c.sendRaw(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x08));
  const error = await c.next('ERROR MESSAGE_TOO_LARGE', isError);
  assert.ok(error.type === 'ERROR');
  assert.equal(error.code, ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal(error.deviceId, 0);
  assert.equal(error.refSeq, 0);
  await within(c.closed, 'the server to close after the 2 GB prefix');
  assert.equal(c.inbox.got.length, 1);
}

/** Connects and says nothing: ERROR IDLE_TIMEOUT after the idle timeout, then closed. */
async function silent(t: TestContext, port: number): Promise<void> {
  const c = await RawTcpClient.connect(t, port);
  const since = Date.now();
  const error = await c.next('ERROR IDLE_TIMEOUT', isError, 10_000);
  assert.equal(errorCode(error), ErrorCode.IDLE_TIMEOUT);
  assert.ok(Date.now() - since >= IDLE_MS - 50, `timed out after ${Date.now() - since} ms`);
  await within(c.closed, 'the server to close the idle connection', 10_000);
}

/** READINGS before HELLO on TCP: UNEXPECTED, and the server closes (§6.3). */
async function helloLess(t: TestContext, port: number): Promise<void> {
  const c = await RawTcpClient.connect(t, port);
  c.send({ type: 'READINGS', deviceId: 77, seq: 1, baseTime: Date.now(), readings: [{ sensor: 1, delta: 0, type: 'uint8', value: 1 }] });
  const error = await c.next('ERROR UNEXPECTED', isError);
  assert.ok(error.type === 'ERROR');
  assert.equal(error.code, ErrorCode.UNEXPECTED);
  assert.equal(error.refSeq, 1);
  await within(c.closed, 'the server to close the HELLO-less connection');
}

/** A READINGS of a sensor the catalogue lacks: UNKNOWN_SENSOR, nothing stored, the connection stays. */
async function unknownSensor(t: TestContext, port: number): Promise<void> {
  const c = await RawTcpClient.connect(t, port);
  c.send({
    type: 'HELLO', deviceId: 78, seq: 1, session: 1, resumeSeq: 1, intervalMs: 1000, model: '', firmware: '',
    sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: 'one' }],
  });
  await c.nextOpen('the HELLO ACK', (m) => m.type === 'ACK' && m.ackSeq === 1);
  c.send({ type: 'READINGS', deviceId: 78, seq: 2, baseTime: Date.now(), readings: [{ sensor: 2, delta: 0, type: 'uint8', value: 1 }] });
  c.send({ type: 'READINGS', deviceId: 78, seq: 3, baseTime: Date.now(), readings: [{ sensor: 1, delta: 0, type: 'int8', value: 1 }] });
  assert.equal(errorCode(await c.nextOpen('UNKNOWN_SENSOR for an undeclared id', errorFor(2))), ErrorCode.UNKNOWN_SENSOR);
  assert.equal(errorCode(await c.nextOpen('UNKNOWN_SENSOR for a wrong type', errorFor(3))), ErrorCode.UNKNOWN_SENSOR);
  c.send({ type: 'PING', deviceId: 78, seq: 4 });
  await c.nextOpen('a PONG on the same connection', isType('PONG'));
  c.close();
}

/**
 * Garbage datagrams, each from its own socket so that a reply can be matched with its datagram:
 * answered only by an ERROR no larger than the datagram. A PING from the same socket afterwards
 * is answered after any ERROR would have been, so "no reply" is known without waiting.
 */
async function udpGarbage(t: TestContext, port: number): Promise<{ sent: number; unanswered: number }> {
  const sizes = [1, 2, 3, 5, 6, 7, 8, 12, 40, 200, 1200, 1201, 1500];
  let unanswered = 0;
  await Promise.all(sizes.map(async (size, i) => {
    const c = await RawUdpClient.open(t, port);
    const bytes = garbage(100 + i, size);
    // Random bytes could happen to form a message: make sure they do not (version 1, PING, then
    // reserved flags: BAD_FLAGS; a single byte: TRUNCATED; over 1200 bytes: MESSAGE_TOO_LARGE).
    bytes[0] = 0x16;
    if (size > 1) bytes[1] = 0xf8;
    await c.sendBytes(bytes);
    await c.send({ type: 'PING', deviceId: 9000 + i, seq: 1 });
    await c.next(`the PONG after a ${size}-byte datagram`, isType('PONG'));
    const errors = c.inbox.got.filter(isError);
    // Every datagram received before the PONG was the ERROR, if any.
    assert.ok(c.sizes.length <= 2);
    if (errors.length === 0) {
      unanswered++;
    } else {
      assert.equal(errors.length, 1);
      const errorSize = c.sizes[0]!;
      assert.ok(errorSize <= size, `a ${errorSize}-byte ERROR answered a ${size}-byte datagram`);
      const code = errorCode(errors[0]!);
      assert.ok(code >= 1 && code <= 14, `code ${code}`);
      assert.equal(code, size > 1200 ? ErrorCode.MESSAGE_TOO_LARGE : size === 1 ? ErrorCode.TRUNCATED : ErrorCode.BAD_FLAGS);
    }
  }));
  return { sent: sizes.length, unanswered };
}

describe('misbehaving clients', { timeout: 120_000 }, () => {
  it('are refused while good TCP and UDP devices carry on', async (t) => {
    const { server, dbPath, tcpPort, udpPort } = await startSqliteServer(t, { idleTimeoutMs: IDLE_MS });
    const log = new AckLog();
    const fleet = new Fleet({
      devices: 20,
      firstId: 1,
      transports: [tcp, udp],
      ports: { tcp: tcpPort, udp: udpPort },
      host: HOST,
      intervalMs: 10,
      batch: 4,
      count: 150,
      session: 3,
      ackTimeoutMs: 10_000,
      drainMs: 20_000,
      onEvent: log.onEvent,
    });
    t.after(() => fleet.finish());
    const good = fleet.run();

    const [, , , , , datagrams] = await within(Promise.all([
      tcpGarbage(t, tcpPort),
      hugeFrame(t, tcpPort),
      silent(t, tcpPort),
      helloLess(t, tcpPort),
      unknownSensor(t, tcpPort),
      udpGarbage(t, udpPort),
    ]), 'the misbehaving clients', 20_000);
    const summaries = await within(good, 'the good devices', 30_000);

    assert.deepEqual(log.errors, []);
    await server.close();
    const store = openSqliteStore(dbPath, { readonly: true });
    t.after(() => store.close());
    const check = await checkStore(store);
    checkSummaries(summaries, check);
    log.assertMatches(check, summaries);
    assert.equal(check.byDevice.get(77), undefined, 'nothing of the HELLO-less READINGS stored');
    assert.equal(check.byDevice.get(78), undefined, 'nothing of the undeclared sensors stored');

    const stats = server.ingest.stats;
    const goodReadings = (kind: string): number =>
      summaries.filter((s) => s.transport === kind).reduce((n, s) => n + s.readings.generated, 0);
    assert.equal(stats.tcp.readingsStored, goodReadings('tcp'));
    assert.equal(stats.udp.readingsStored, goodReadings('udp'));
    assert.equal(stats.tcp.malformed, 2, 'random bytes and the 2 GB prefix');
    assert.equal(stats.tcp.refused, 3, 'UNEXPECTED and two UNKNOWN_SENSOR');
    assert.equal(stats.udp.malformed, datagrams.sent);
    assert.equal(stats.udp.unanswered, datagrams.unanswered);
    assert.ok(datagrams.unanswered >= 3, 'the smallest datagrams got no reply');
    assert.ok(datagrams.unanswered < datagrams.sent, 'the larger ones were answered');
    assert.equal(stats.tcp.duplicates + stats.udp.duplicates, 0);
    assert.equal(server.tcp.connections, 0);
  });
});

describe('a connection the server ends gives nothing more', { timeout: 120_000 }, () => {
  const hello = encodeFrame({
    type: 'HELLO', deviceId: 5, seq: 1, session: 1, resumeSeq: 1, intervalMs: 1000, model: '', firmware: '',
    sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: '' }],
  });
  const readings = encodeFrame({ type: 'READINGS', deviceId: 5, seq: 2, baseTime: 1, readings: [{ sensor: 1, delta: 0, type: 'uint8', value: 9 }] });

  // Each case is written in one piece, so that the server reads it in one chunk: the frames
  // after the one that ends the connection must not be handled, let alone stored.
  const cases = [
    { name: 'after a malformed frame', first: Uint8Array.of(3, 0x12, 0xf0, 0x01), code: ErrorCode.BAD_FLAGS, malformed: 1, refused: 0 },
    { name: 'after a READINGS before HELLO', first: readings, code: ErrorCode.UNEXPECTED, malformed: 0, refused: 1 },
  ];
  for (const c of cases) {
    it(c.name, async (t) => {
      const { server, store, tcpPort } = await startSqliteServer(t);
      const client = await RawTcpClient.connect(t, tcpPort);
      client.sendRaw(Buffer.concat([c.first, hello, readings]));
      await within(client.closed, 'the server to close the connection');
      assert.deepEqual(client.inbox.got.map((m) => (m.type === 'ERROR' ? m.code : m.type)), [c.code]);
      await server.ingest.drain();
      assert.deepEqual(await allReadings(store), []);
      assert.equal(await store.loadDevice(5), undefined, 'the HELLO was not taken');
      assert.equal(server.ingest.stats.tcp.readingsStored, 0);
      assert.equal(server.ingest.stats.tcp.malformed, c.malformed);
      assert.equal(server.ingest.stats.tcp.refused, c.refused);
    });
  }
});

describe('a peer that never closes its side', { timeout: 120_000 }, () => {
  it('is dropped an idle period after the server closed its own', async (t) => {
    const { server, tcpPort } = await startSqliteServer(t, { idleTimeoutMs: 200 });
    // allowHalfOpen: the client does not answer the server's FIN with its own.
    const socket = netConnect({ host: HOST, port: tcpPort, allowHalfOpen: true });
    t.after(() => socket.destroy());
    socket.on('error', () => {});
    let ended = false;
    socket.on('end', () => (ended = true));
    socket.resume();
    await within(new Promise((resolve) => socket.once('connect', resolve)), 'the connection');
    socket.write(Uint8Array.of(3, 0x12, 0xf0, 0x01)); // BAD_FLAGS: ERROR, then the server closes
    await until(() => ended, 'the server to close its side');
    assert.equal(server.tcp.connections, 1, 'the connection waits for the peer');
    await until(() => server.tcp.connections === 0, 'the server to drop the half-closed connection', 3000);
  });
});

describe('a TCP connection carries one device, HELLO first (§6.3, §6.5)', { timeout: 120_000 }, () => {
  const helloOf = (deviceId: number, seq: number, session = 1): Message => ({
    type: 'HELLO', deviceId, seq, session, resumeSeq: seq, intervalMs: 1000, model: '', firmware: '',
    sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: '' }],
  });
  const readingsOf = (deviceId: number, seq: number): Message =>
    ({ type: 'READINGS', deviceId, seq, baseTime: 1, readings: [{ sensor: 1, delta: 0, type: 'uint8', value: seq }] });

  it('answers a first message other than HELLO with UNEXPECTED and closes', async (t) => {
    const { server, tcpPort } = await startSqliteServer(t);
    for (const first of [{ type: 'PING', deviceId: 5, seq: 1 }, { type: 'BYE', deviceId: 5, seq: 1, reason: 0 }] as Message[]) {
      const c = await RawTcpClient.connect(t, tcpPort);
      c.send(first);
      assert.equal(errorCode(await c.next(`UNEXPECTED for a first ${first.type}`, errorFor(1))), ErrorCode.UNEXPECTED);
      await within(c.closed, `the server to close after a first ${first.type}`);
      assert.equal(c.inbox.got.length, 1, 'no PONG or ACK');
    }
    assert.equal(server.ingest.stats.tcp.refused, 2);
  });

  it('refuses another device id with UNEXPECTED and keeps the connection open', async (t) => {
    const { store, tcpPort } = await startSqliteServer(t);
    const c = await RawTcpClient.connect(t, tcpPort);
    c.send(helloOf(5, 1));
    await c.nextOpen('the HELLO ACK', (m) => m.type === 'ACK' && m.ackSeq === 1);
    c.send(readingsOf(6, 2));
    c.send(helloOf(6, 3));
    c.send({ type: 'PING', deviceId: 6, seq: 4 });
    for (const seq of [2, 3, 4]) assert.equal(errorCode(await c.nextOpen(`UNEXPECTED for seq ${seq}`, errorFor(seq))), ErrorCode.UNEXPECTED);
    c.send(readingsOf(5, 5));
    await c.nextOpen('the ACK of device 5\'s READINGS', (m) => m.type === 'ACK' && m.ackSeq === 5);
    assert.equal(c.ended, false);
    assert.deepEqual((await allReadings(store)).map((r) => `${r.device}/${r.seq}`), ['5/5']);
    assert.equal(await store.loadDevice(6), undefined);
  });

  it('does not bind a connection to a device whose HELLO was refused', async (t) => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const { tcpPort } = await startSqliteServer(t, { keys: new Map([[5, key]]) });
    const first = await RawTcpClient.connect(t, tcpPort);
    first.send(helloOf(5, 1, 10), { key });
    await first.nextOpen('the HELLO ACK', (m) => m.type === 'ACK' && m.ackSeq === 1);
    first.close();
    const c = await RawTcpClient.connect(t, tcpPort);
    c.send(helloOf(5, 2, 9), { key }); // an older session: REPLAY, the connection stays open
    assert.equal(errorCode(await c.nextOpen('REPLAY for the old session', errorFor(2))), ErrorCode.REPLAY);
    c.send(readingsOf(5, 3), { key, session: 10 });
    assert.equal(errorCode(await c.next('UNEXPECTED: still no HELLO on this connection', errorFor(3))), ErrorCode.UNEXPECTED);
    await within(c.closed, 'the server to close');
  });
});

describe('UDP refusals do not amplify', { timeout: 120_000 }, () => {
  it('answers a well-formed datagram it refuses with an ERROR no larger than the datagram', async (t) => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    const { server, udpPort } = await startSqliteServer(t, { keys: new Map([[41, key]]) });
    const c = await RawUdpClient.open(t, udpPort);
    const tiny = (deviceId: number, seq: number): Message =>
      ({ type: 'READINGS', deviceId, seq, baseTime: 0, readings: [{ sensor: 1, delta: 0, type: 'bool', value: true }] });
    const cases: { what: string; bytes: Uint8Array; code: number }[] = [
      { what: 'a READINGS of a device without a session', bytes: encode(tiny(41, 1), { key, session: 1 }), code: ErrorCode.UNKNOWN_DEVICE },
      { what: 'a forged READINGS', bytes: encode(tiny(41, 2)), code: ErrorCode.BAD_TAG },
      { what: 'a READINGS of a device without a key', bytes: encode(tiny(0x7fff_ffff, 0x7fff_ffff)), code: ErrorCode.BAD_TAG },
      {
        what: 'a large READINGS of a device without a session',
        bytes: encode({ type: 'READINGS', deviceId: 41, seq: 3, baseTime: 0, readings: [{ sensor: 1, delta: 0, type: 'string', value: 'x'.repeat(200) }] }, { key, session: 1 }),
        code: ErrorCode.UNKNOWN_DEVICE,
      },
    ];
    let i = 0;
    for (const k of cases) {
      await c.sendBytes(k.bytes);
      const reply = await c.next(`the answer to ${k.what}`, isError);
      assert.equal(errorCode(reply), k.code, k.what);
      const size = c.sizes[i++]!;
      assert.ok(size <= k.bytes.length, `${k.what}: a ${size}-byte ERROR for a ${k.bytes.length}-byte datagram`);
    }
    const last = c.inbox.got.at(-1);
    assert.ok(last?.type === 'ERROR' && last.text.length > 0, 'a large datagram gets the explanation too');
    assert.equal(server.ingest.stats.udp.refused, cases.length);
    assert.equal(server.ingest.stats.udp.unanswered, 0);
  });
});

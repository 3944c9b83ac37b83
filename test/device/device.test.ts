// SimulatedDevice against the in-memory transport: the ingest server with a MemoryStore behind
// a handler the test can step into (drop a connection, lose an ACK, change what the server
// hears), or a scripted fake server. Checks what the device resends, what it counts, and that
// the store ends up with each reading once.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { SimulatedDevice, type DeviceEvent, type DeviceOptions, type DeviceSummary } from '../../src/device/device.ts';
import { silentLogger } from '../../src/log.ts';
import { ErrorCode, encode, type Frame, type Message } from '../../src/protocol/index.ts';
import { IngestServer } from '../../src/server/ingest.ts';
import { StoreError } from '../../src/store/errors.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { StoredReading } from '../../src/store/types.ts';
import { createMemoryTransport, type Link, type LinkHandler, type Transport } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';

type Tap = (link: Link, frame: Frame, pass: (link: Link, frame: Frame) => void) => void;

/** The ingest server with a MemoryStore on a memory transport; `tap` sees every frame first. */
async function memoryServer(t: TestContext, tap?: Tap): Promise<{ transport: Transport; port: number; store: MemoryStore; ingest: IngestServer }> {
  const transport = createMemoryTransport();
  const store = new MemoryStore();
  const ingest = new IngestServer({ store, log: silentLogger() });
  const pass = (link: Link, frame: Frame): void => ingest.handler.frame(link, frame);
  const handler: LinkHandler = {
    open: (link) => ingest.handler.open?.(link),
    frame: (link, frame) => (tap ? tap(link, frame, pass) : pass(link, frame)),
    close: (link, error) => ingest.handler.close?.(link, error),
  };
  const listener = await transport.listen({ port: 0 }, handler);
  t.after(() => listener.close());
  return { transport, port: listener.port, store, ingest };
}

async function stored(store: MemoryStore): Promise<StoredReading[]> {
  const out: StoredReading[] = [];
  for await (const r of store.readings()) out.push(r);
  return out;
}

function device(
  t: TestContext, transport: Transport, port: number, options: Partial<DeviceOptions> = {},
): { run: Promise<DeviceSummary>; events: DeviceEvent[]; device: SimulatedDevice } {
  const events: DeviceEvent[] = [];
  const d = new SimulatedDevice({
    id: 11, transport, host: 'memory', port, intervalMs: 1, batch: 3, count: 60, session: 5,
    backoffMs: { min: 1, max: 20 }, drainMs: 5000, onEvent: (e) => events.push(e), ...options,
  });
  t.after(() => d.finish());
  return { run: within(d.run(), 'the device to finish', 15_000), events, device: d };
}

const isReadings = (f: Frame): f is Frame & { ok: true; message: Extract<Message, { type: 'READINGS' }> } =>
  f.ok && f.message.type === 'READINGS';

describe('SimulatedDevice over the memory transport', { timeout: 120_000 }, () => {
  it('resends what was never acknowledged after the connection drops', async (t) => {
    // The server drops the connection when READINGS seq 6 arrives, without taking it.
    let dropped = false;
    const { transport, port, store } = await memoryServer(t, (link, frame, pass) => {
      if (!dropped && isReadings(frame) && frame.message.seq === 6) {
        dropped = true;
        link.close();
        return;
      }
      pass(link, frame);
    });
    const { run, events } = device(t, transport, port);
    const s = await run;
    assert.equal(dropped, true);
    assert.equal(s.reconnects, 1);
    assert.ok(s.messages.retransmissions >= 1, 'seq 6 was sent again');
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged], [60, 60, 0]);
    const rows = await stored(store);
    assert.equal(rows.length, 60);
    assert.equal(new Set(rows.map((r) => `${r.seq}/${r.index}`)).size, 60, 'each reading once');
    assert.ok(rows.some((r) => r.seq === 6));
    // After the reconnect: HELLO first, with resume seq = the lowest unacknowledged seq.
    assert.equal(events.filter((e) => e.kind === 'connected').length, 2);
  });

  it('counts a READINGS committed before its ACK was lost as acknowledged once (ACK DUPLICATE)', async (t) => {
    const readingsSeqs = new Set<number>();
    const { transport, port, store, ingest } = await memoryServer(t, (link, frame, pass) => {
      if (isReadings(frame)) readingsSeqs.add(frame.message.seq);
      pass(link, frame);
    });
    // On the device's side: the ACK of the third READINGS (sent after its commit) is lost with
    // the connection.
    let acks = 0;
    let cutSeq = 0;
    const lossy: Transport = {
      kind: transport.kind,
      listen: (o, h) => transport.listen(o, h),
      connect: (o, h) => transport.connect(o, {
        ...h,
        frame: (link, frame) => {
          if (cutSeq === 0 && frame.ok && frame.message.type === 'ACK' && readingsSeqs.has(frame.message.ackSeq) && ++acks === 3) {
            cutSeq = frame.message.ackSeq;
            link.close();
            return;
          }
          h.frame(link, frame);
        },
      }),
    };
    const { run, events } = device(t, lossy, port);
    const s = await run;
    assert.ok(cutSeq > 0);
    assert.equal(s.reconnects, 1);
    assert.ok(s.messages.duplicates >= 1, 'the resent READINGS was answered DUPLICATE');
    assert.ok(events.some((e) => e.kind === 'ack' && e.ackSeq === cutSeq && e.status === 'DUPLICATE'));
    assert.deepEqual([s.readings.generated, s.readings.acknowledged], [60, 60]);
    assert.equal((await stored(store)).length, 60);
    assert.equal(ingest.stats.tcp.duplicates, s.messages.duplicates);
  });

  it('counts readings refused with UNKNOWN_SENSOR as rejected, and stores none of them', async (t) => {
    // The server hears a catalogue without sensor 9 (status, a string): every READINGS that
    // carries a status reading is refused whole.
    const { transport, port, store } = await memoryServer(t, (link, frame, pass) => {
      if (frame.ok && frame.message.type === 'HELLO') {
        const message = { ...frame.message, sensors: frame.message.sensors.filter((spec) => spec.id !== 9) };
        pass(link, { ok: true, message, bytes: encode(message) });
        return;
      }
      pass(link, frame);
    });
    const { run, events } = device(t, transport, port, { batch: 9, count: 45 });
    const s = await run;
    const refusals = events.filter((e) => e.kind === 'error' && e.code === ErrorCode.UNKNOWN_SENSOR);
    assert.ok(refusals.length >= 1);
    assert.ok(s.readings.rejected > 0);
    assert.equal(s.readings.acknowledged + s.readings.rejected, s.readings.generated);
    assert.equal(s.readings.unacknowledged, 0);
    const rows = await stored(store);
    assert.equal(rows.length, s.readings.acknowledged);
    assert.ok(rows.every((r) => r.sensor !== 9));
  });

  it('sends a READINGS refused with STORAGE again later, and all are stored', async (t) => {
    // The server's store fails the commits of the second and third READINGS it sees.
    const { transport, port, store } = await memoryServer(t);
    const commit = store.commit.bind(store);
    let commits = 0;
    store.commit = async (batches) => {
      commits++;
      if (commits === 2 || commits === 3) throw new StoreError('STORE_WRITE', 'disk full (scripted)');
      return commit(batches);
    };
    const { run, events } = device(t, transport, port, { batch: 3, count: 30, intervalMs: 5 });
    const s = await run;
    assert.ok(events.some((e) => e.kind === 'error' && e.code === ErrorCode.STORAGE));
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged, s.readings.rejected], [30, 30, 0, 0]);
    assert.ok(s.messages.retransmissions >= 1);
    assert.equal(s.reconnects, 0, 'resent on the same connection');
    assert.equal((await stored(store)).length, 30);
  });

  it('recovers from a HELLO the server could not record (STORAGE): everything is stored in the end', async (t) => {
    const { transport, port, store } = await memoryServer(t);
    const save = store.saveDevice.bind(store);
    let saves = 0;
    store.saveDevice = async (record) => {
      if (++saves === 1) throw new StoreError('STORE_WRITE', 'disk full (scripted)');
      return save(record);
    };
    const { run, events } = device(t, transport, port, { batch: 3, count: 30, intervalMs: 5 });
    const s = await run;
    const codes = events.flatMap((e) => (e.kind === 'error' ? [e.code] : []));
    assert.equal(codes[0], ErrorCode.STORAGE);
    // The READINGS right behind the refused HELLO are refused too (UNEXPECTED: no HELLO on the
    // connection, which the server closes); the device reconnects, says HELLO and resends.
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged, s.readings.rejected], [30, 30, 0, 0]);
    assert.ok(s.reconnects <= 1);
    assert.equal((await stored(store)).length, 30);
  });

  it('drops the oldest messages beyond its queue limit and counts them', async (t) => {
    // A server that acknowledges the HELLO and nothing else.
    const { transport, port } = await memoryServer(t, (link, frame, pass) => {
      if (isReadings(frame)) return;
      pass(link, frame);
    });
    const { run } = device(t, transport, port, { batch: 5, count: 50, queueLimit: 3, window: 2, drainMs: 50 });
    const s = await run;
    assert.equal(s.readings.generated, 50);
    assert.equal(s.readings.acknowledged, 0);
    assert.equal(s.readings.dropped, 35, '7 of 10 messages dropped');
    assert.equal(s.readings.unacknowledged, 15, 'the 3 still held at the end');
    assert.equal(s.messages.unacknowledged, 3);
  });
});

describe('SimulatedDevice numbering', { timeout: 120_000 }, () => {
  it('numbers the messages made while it could not send after its HELLO, so an authenticating server takes them all', async (t) => {
    // No server yet: the device makes 100 messages (far more than the 64 seqs of the server's
    // replay window) while it retries the connection.
    const transport = createMemoryTransport();
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const { run, device: d } = device(t, transport, 1, { batch: 1, count: 100, key, backoffMs: { min: 5, max: 10 } });
    await until(() => d.generatedSoFar === 100, 'the device to make its messages');

    const store = new MemoryStore();
    const ingest = new IngestServer({ store, log: silentLogger(), keys: new Map([[11, key]]) });
    const got: Message[] = [];
    const listener = await transport.listen({ port: 1 }, {
      ...ingest.handler,
      frame: (link, frame) => {
        if (frame.ok) got.push(frame.message);
        ingest.handler.frame(link, frame);
      },
    });
    t.after(() => listener.close());
    const s = await run;
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.rejected], [100, 100, 0]);
    assert.equal((await stored(store)).length, 100);
    // The HELLO comes first and is the lowest seq of the session; READINGS follow it in seq order.
    const [hello, ...rest] = got;
    assert.ok(hello?.type === 'HELLO');
    assert.equal(hello.resumeSeq, hello.seq);
    const seqs = rest.filter((m) => m.type === 'READINGS').map((m) => m.seq);
    assert.equal(seqs.length, 100);
    assert.deepEqual(seqs, seqs.map((_, i) => hello.seq + 1 + i));
    assert.equal(ingest.stats.tcp.refused, 0);
  });
});

/** The memory transport under the name 'udp': the device then behaves as over UDP. */
function asUdp(transport: Transport): Transport {
  return { kind: 'udp', listen: (o, h) => transport.listen(o, h), connect: (o, h) => transport.connect(o, h) };
}

describe('SimulatedDevice over UDP', { timeout: 120_000 }, () => {
  it('answers UNKNOWN_DEVICE with a HELLO and sends the refused READINGS again once it is acknowledged', async (t) => {
    // A scripted server: ACKs every HELLO and READINGS, except that the first READINGS is
    // refused with UNKNOWN_DEVICE (the server lost the device, or another worker has the HELLO).
    const memory = createMemoryTransport();
    const got: Message[] = [];
    let serverSeq = 0;
    let refused = 0;
    const listener = await memory.listen({ port: 0 }, {
      frame(link, frame) {
        if (!frame.ok) return;
        const m = frame.message;
        got.push(m);
        const reply = (r: Message): void => void link.send(encode(r));
        if (m.type === 'READINGS' && refused === 0) {
          refused = m.seq;
          reply({ type: 'ERROR', deviceId: m.deviceId, seq: ++serverSeq, code: ErrorCode.UNKNOWN_DEVICE, refSeq: m.seq, text: '' });
          return;
        }
        if (m.type === 'HELLO' || m.type === 'READINGS' || m.type === 'BYE') {
          reply({ type: 'ACK', deviceId: m.deviceId, seq: ++serverSeq, status: 'OK', ackSeq: m.seq, rxTime: Date.now(), holdUs: 0 });
        }
      },
    });
    t.after(() => listener.close());
    const { run } = device(t, asUdp(memory), listener.port, { batch: 3, count: 30, ackTimeoutMs: 5000 });
    const s = await run;
    assert.ok(refused > 0);
    assert.deepEqual([s.readings.generated, s.readings.acknowledged, s.readings.unacknowledged], [30, 30, 0]);
    assert.equal(s.messages.retransmissions, 1);
    // Order on the wire: HELLO, the refused READINGS, a new HELLO, and only after that the
    // refused READINGS again.
    const hellos = got.flatMap((m, i) => (m.type === 'HELLO' ? [i] : []));
    assert.equal(hellos.length, 2);
    const sends = got.flatMap((m, i) => (m.type === 'READINGS' && m.seq === refused ? [i] : []));
    assert.equal(sends.length, 2);
    assert.ok(sends[0]! > hellos[0]! && sends[0]! < hellos[1]! && sends[1]! > hellos[1]!);
    // No READINGS went out before the first HELLO.
    assert.equal(got[0]?.type, 'HELLO');
  });
});

// The battery CONFIG policy end to end (PROTOCOL.md §4.3, §4.4): a device whose battery reads
// below the threshold gets a CONFIG on an ACK, applies it (a longer interval, two sensors
// switched off), acknowledges it, and its later stored readings show the change. Over TCP and UDP.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { SimulatedDevice, type DeviceEvent } from '../../src/device/device.ts';
import { batteryPolicy } from '../../src/server/policy.ts';
import { tcp, udp, type Transport } from '../../src/transport/index.ts';
import { within } from '../support/wait.ts';
import { HOST, allReadings, startSqliteServer } from './support.ts';

const SLOW_MS = 60;
const DOOR = 6;
const STATUS = 9;

/** A pino logger whose JSON lines the test can read. */
function capturedLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function lowBattery(t: TestContext, transport: Transport): Promise<void> {
  const { log, lines } = capturedLogger();
  const { server, store, tcpPort, udpPort } = await startSqliteServer(t, {
    log,
    policy: batteryPolicy({ thresholdMv: 3300, intervalMs: SLOW_MS, disable: ['door', 'status'] }),
  });
  const id = transport.kind === 'udp' ? 62 : 61;
  const events: { at: number; event: DeviceEvent }[] = [];
  const device = new SimulatedDevice({
    id, transport, host: HOST, port: transport.kind === 'udp' ? udpPort : tcpPort,
    intervalMs: 10, batch: 9, count: 120, session: 1,
    simulation: { batteryStartMv: 3200 },
    onEvent: (event) => events.push({ at: Date.now(), event }),
  });
  t.after(() => device.finish());
  const summary = await within(device.run(), 'the device to finish', 20_000);

  // The device got one CONFIG, applied it, and runs at the new interval.
  const configs = events.filter((e) => e.event.kind === 'config');
  assert.equal(configs.length, 1);
  const config = configs[0]!;
  assert.ok(config.event.kind === 'config');
  assert.equal(config.event.configId, 1);
  assert.equal(config.event.intervalMs, SLOW_MS);
  assert.equal(config.event.previousIntervalMs, 10);
  assert.deepEqual([...config.event.disabled].sort(), ['door', 'status']);
  assert.equal(summary.configsApplied, 1);
  assert.equal(summary.intervalMs, SLOW_MS);
  assert.deepEqual([summary.readings.acknowledged, summary.readings.generated], [120, 120]);

  // The server issued it once, and the device acknowledged it.
  await server.ingest.drain();
  assert.deepEqual(lines.filter((l) => l.event === 'config' && l.device === id).map((l) => l.configId), [1]);
  assert.deepEqual(lines.filter((l) => l.event === 'config-applied' && l.device === id).map((l) => l.configId), [1]);
  assert.equal((await store.loadDevice(id))?.configId, 1);

  // Before the CONFIG every sensor was read; after it, door and status never again, and the
  // rounds are SLOW_MS apart.
  const rows = await allReadings(store, id);
  assert.equal(rows.length, 120);
  const before = rows.filter((r) => r.ts < config.at);
  const after = rows.filter((r) => r.ts > config.at);
  assert.ok(before.some((r) => r.sensor === DOOR) && before.some((r) => r.sensor === STATUS), 'all sensors read before');
  assert.ok(after.length > 0, 'readings after the CONFIG');
  assert.deepEqual(after.filter((r) => r.sensor === DOOR || r.sensor === STATUS), [], 'no disabled sensor after the CONFIG');
  assert.deepEqual([...new Set(after.map((r) => r.sensor))].sort(), [1, 2, 3, 4, 5, 7, 8]);
  // (On average: a late timer makes the next round come early, to keep the schedule.)
  const rounds = [...new Set(after.map((r) => r.ts))].sort((a, b) => a - b);
  assert.ok(rounds.length >= 4);
  const gap = (rounds.at(-1)! - rounds[1]!) / (rounds.length - 2); // from the first round at the new interval
  assert.ok(gap >= SLOW_MS * 0.9, `rounds ${gap} ms apart on average: ${rounds.join(', ')}`);
}

describe('battery CONFIG policy', { timeout: 120_000 }, () => {
  it('over TCP: the device slows down, switches sensors off and acknowledges', async (t) => {
    await lowBattery(t, tcp);
  });

  it('over UDP: the device slows down, switches sensors off and acknowledges', async (t) => {
    await lowBattery(t, udp);
  });
});

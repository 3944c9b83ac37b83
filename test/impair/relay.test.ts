// The relay with real sockets on 127.0.0.1: a client, the relay and an echo server in this
// process. What arrives is checked against the settings and, exactly, against what the pure
// decision function says for the seed.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { decide, NO_IMPAIRMENT, type Impairment } from '../../src/impair/decisions.ts';
import { startRelay, type Relay, type RelayOptions } from '../../src/impair/relay.ts';
import type { DirectionStats } from '../../src/impair/stats.ts';
import type { Cleanup } from '../support/cli.ts';
import { until } from '../support/wait.ts';
import { client, echoServer, model, numbers, overtaken, sendAll, type Endpoint } from './support.ts';

interface Setup {
  readonly relay: Relay;
  readonly server: Endpoint;
  readonly client: Endpoint;
}

async function setup(t: Cleanup, options: Omit<RelayOptions, 'forwardHost' | 'forwardPort'>, echo = true): Promise<Setup> {
  const server = await echoServer(t, echo);
  const relay = await startRelay({ forwardHost: '127.0.0.1', forwardPort: server.port, ...options });
  t.after(() => relay.close());
  return { relay, server, client: await client(t) };
}

const texts = (arrivals: readonly { text: string }[]): string[] => arrivals.map((a) => a.text);
const ints = (arrivals: readonly { text: string }[]): number[] => arrivals.map((a) => Number(a.text));

/** Every datagram accounted for: received = dropped + overflow + discarded + passed + queued. */
function assertBalanced(s: DirectionStats): void {
  assert.equal(s.received, s.dropped + s.overflow + s.discarded + s.forwarded - s.duplicated + s.queued, JSON.stringify(s));
}

/**
 * Waits until the relay has had `up` datagrams from clients, has nothing queued, and the server
 * has what the relay forwarded to it.
 */
async function settled(relay: Relay, server: Endpoint, up: number, ms = 10_000): Promise<void> {
  await until(() => {
    const s = relay.stats;
    return s.up.received >= up && s.up.queued === 0 && server.arrivals.length >= s.up.forwarded;
  }, `the relay to receive ${up} datagrams and the server all it forwarded`, ms);
}

describe('impair relay', () => {
  it('with loss 1 passes nothing, either way', async (t) => {
    const { relay, server, client: c } = await setup(t, { impairment: { loss: 1 }, seed: 1 });
    await sendAll(c, relay.port, numbers(200));
    await settled(relay, server, 200);
    const s = relay.stats;
    assert.deepEqual([s.up.received, s.up.dropped, s.up.forwarded, server.arrivals.length, c.arrivals.length], [200, 200, 0, 0, 0]);
    assertBalanced(s.up);
  });

  it('with no impairment passes everything both ways, once and in order', async (t) => {
    const { relay, server, client: c } = await setup(t, { seed: 2 });
    await sendAll(c, relay.port, numbers(500));
    await until(() => c.arrivals.length >= 500, 'all 500 echoes');
    assert.deepEqual(texts(server.arrivals), numbers(500));
    assert.deepEqual(texts(c.arrivals), numbers(500));
    // The server saw the relay's upstream socket, not the client.
    assert.ok(server.arrivals.every((a) => a.from.port !== c.port && a.from.port === server.arrivals[0]!.from.port));
    const s = relay.stats;
    for (const d of [s.up, s.down]) {
      assert.deepEqual([d.received, d.forwarded, d.dropped, d.duplicated, d.reordered, d.delayed, d.queued], [500, 500, 0, 0, 0, 0, 0]);
      assert.equal(d.bytesForwarded, d.bytesReceived);
    }
    assert.deepEqual(s.clients, { active: 1, seen: 1, expired: 0, evicted: 0 });
  });

  it('drops exactly the datagrams the seed says, each direction on its own', async (t) => {
    const up: Impairment = { ...NO_IMPAIRMENT, loss: 0.3 };
    const down: Impairment = { ...NO_IMPAIRMENT, loss: 0.5 };
    const { relay, server, client: c } = await setup(t, { up, down, seed: 77 });
    const input = numbers(600);
    await sendAll(c, relay.port, input);
    const atServer = model(up, 77, 'up', input);
    const atClient = model(down, 77, 'down', atServer);
    await settled(relay, server, 600);
    await until(() => c.arrivals.length >= atClient.length, 'the echoes');
    assert.deepEqual(texts(server.arrivals), atServer);
    assert.deepEqual(texts(c.arrivals), atClient);
    const s = relay.stats;
    assert.ok(Math.abs(s.up.dropped / 600 - 0.3) < 0.07, `up loss ${s.up.dropped / 600}`);
    assert.ok(Math.abs(s.down.dropped / s.down.received - 0.5) < 0.08, `down loss ${s.down.dropped / s.down.received}`);
    assertBalanced(s.up);
    assertBalanced(s.down);
  });

  it('duplicates at about the configured rate, the copy right after the original, in either direction', async (t) => {
    const { relay, server, client: c } = await setup(t, { up: { duplicate: 0.1 }, down: { duplicate: 0.2 }, seed: 3 });
    await sendAll(c, relay.port, numbers(1000));
    await settled(relay, server, 1000);
    const s = relay.stats;
    await until(() => c.arrivals.length >= s.up.forwarded + relay.stats.down.duplicated && relay.stats.down.received === s.up.forwarded, 'the echoes');
    const atServer = ints(server.arrivals);
    assert.equal(atServer.length, 1000 + s.up.duplicated);
    assert.ok(s.up.duplicated >= 60 && s.up.duplicated <= 140, `up: ${s.up.duplicated} of 1000 duplicated`);
    assert.deepEqual([...new Set(atServer)], Array.from({ length: 1000 }, (_, i) => i), 'each once or twice, in order');
    assert.equal(atServer.filter((n, i) => atServer[i - 1] === n).length, s.up.duplicated, 'copies adjacent');
    const down = relay.stats.down;
    assert.ok(down.duplicated / down.received > 0.15 && down.duplicated / down.received < 0.25, `down: ${down.duplicated} of ${down.received}`);
    assert.equal(c.arrivals.length, down.received + down.duplicated);
  });

  it('reorders: a held datagram arrives after a later one, as often as the counter says', async (t) => {
    const { relay, server, client: c } = await setup(t, { up: { reorder: 0.1 }, reorderHoldMs: 200, seed: 4 }, false);
    await sendAll(c, relay.port, numbers(500));
    await settled(relay, server, 500);
    const atServer = ints(server.arrivals);
    assert.deepEqual([...atServer].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i), 'everything, once');
    const s = relay.stats.up;
    assert.ok(s.reordered >= 25 && s.reordered <= 80, `${s.reordered} of 500 reordered`);
    assert.equal(overtaken(atServer), s.reordered);
    assert.equal(relay.stats.down.received, 0);
  });

  it('delays each way by delay ± jitter (measured), keeping order', async (t) => {
    const up: Impairment = { ...NO_IMPAIRMENT, delayMs: 40, jitterMs: 10 };
    const down: Impairment = { ...NO_IMPAIRMENT, delayMs: 20 };
    const { relay, server, client: c } = await setup(t, { up, down, seed: 5 });
    const sentAt = await sendAll(c, relay.port, numbers(60), 1, 5);
    await until(() => c.arrivals.length >= 60, 'all 60 echoes');
    assert.deepEqual(texts(server.arrivals), numbers(60), 'jitter does not reorder');
    assert.deepEqual(texts(c.arrivals), numbers(60));
    // Datagram i is due when its own delay is over, but never before the one ahead of it.
    const delays = sentAt.map((_, index) => decide(up, 5, { direction: 'up', flow: 0, index }).delayMs);
    assert.ok(Math.min(...delays) >= 30 && Math.max(...delays) <= 50 && Math.max(...delays) - Math.min(...delays) > 8);
    let due = 0;
    const lateness = server.arrivals.map((a, i) => {
      due = Math.max(due, sentAt[i]! + delays[i]!);
      return a.at - due;
    });
    const oneWay = server.arrivals.map((a, i) => a.at - sentAt[i]!);
    const back = c.arrivals.map((a, i) => a.at - server.arrivals[i]!.at);
    const sorted = [...lateness].sort((a, b) => a - b);
    const describe = `one way ${Math.min(...oneWay).toFixed(1)}…${Math.max(...oneWay).toFixed(1)} ms, lateness ${sorted[0]!.toFixed(1)}…${sorted.at(-1)!.toFixed(1)} ms, back ${Math.min(...back).toFixed(1)}…${Math.max(...back).toFixed(1)} ms`;
    t.diagnostic(describe);
    // Never early (a timer may fire up to a millisecond before its time); late by what the event
    // loop was busy with: a little usually, more on a loaded machine.
    assert.ok(sorted[0]! >= -1.5 && Math.min(...oneWay) >= 30 - 1.5, describe);
    assert.ok(sorted[30]! <= 20 && sorted.at(-1)! <= 250, describe);
    assert.ok(Math.min(...back) >= 20 - 1.5 && [...back].sort((a, b) => a - b)[30]! <= 40, describe);
    const s = relay.stats;
    assert.deepEqual([s.up.delayed, s.down.delayed, s.up.queued, s.down.queued], [60, 60, 0, 0]);
  });

  it('is reproducible: the same seed and input give the same delivered sequence, as the model predicts', async (t) => {
    const settings: Impairment = { loss: 0.2, duplicate: 0.1, reorder: 0.2, delayMs: 0, jitterMs: 0 };
    const input = numbers(300);
    const once = async (seed: number): Promise<{ server: string[]; client: string[] }> => {
      const { relay, server, client: c } = await setup(t, { impairment: settings, reorderHoldMs: 400, seed });
      const atServer = model(settings, seed, 'up', input);
      const atClient = model(settings, seed, 'down', atServer);
      await sendAll(c, relay.port, input);
      await until(() => c.arrivals.length >= atClient.length && relay.stats.down.queued === 0 && relay.stats.up.queued === 0, `${atClient.length} echoes`);
      assert.deepEqual(texts(server.arrivals), atServer);
      assert.deepEqual(texts(c.arrivals), atClient);
      assert.ok(overtaken(ints(c.arrivals)) > 0 && atClient.length !== 300);
      await relay.close();
      return { server: atServer, client: texts(c.arrivals) };
    };
    const [first, second, other] = [await once(11), await once(11), await once(12)];
    assert.deepEqual(second, first);
    assert.notDeepEqual(other.client, first.client);
  });

  it('holds at most maxQueued datagrams, dropping the rest as overflow', async (t) => {
    const { relay, server, client: c } = await setup(t, { up: { delayMs: 500 }, maxQueued: 10, seed: 6 }, false);
    let peak = 0;
    const watcher = setInterval(() => (peak = Math.max(peak, relay.stats.up.queued)), 1);
    t.after(() => clearInterval(watcher));
    await sendAll(c, relay.port, numbers(40), 40);
    await settled(relay, server, 40);
    const s = relay.stats.up;
    assert.ok(s.overflow >= 20, `${s.overflow} overflow`);
    assert.equal(s.forwarded + s.overflow, 40);
    assert.equal(server.arrivals.length, s.forwarded);
    assert.ok(peak <= 10, `peak ${peak}`);
    assertBalanced(s);
  });

  it('gives each client its own upstream socket and answers each with its own replies', async (t) => {
    const { relay, server, client: first } = await setup(t, { seed: 8 });
    const second = await client(t);
    await Promise.all([sendAll(first, relay.port, numbers(50).map((n) => `a${n}`)), sendAll(second, relay.port, numbers(50).map((n) => `b${n}`))]);
    await until(() => first.arrivals.length >= 50 && second.arrivals.length >= 50, 'the echoes of both');
    assert.ok(first.arrivals.every((a) => a.text.startsWith('a')) && second.arrivals.every((a) => a.text.startsWith('b')));
    const ports = new Set(server.arrivals.map((a) => a.from.port));
    assert.equal(ports.size, 2, 'two upstream sockets');
    assert.deepEqual(relay.stats.clients, { active: 2, seen: 2, expired: 0, evicted: 0 });
  });

  it('listens on IPv6 (::1) and forwards to an IPv4 server', async (t) => {
    const server = await echoServer(t);
    const relay = await startRelay({ host: '::1', forwardHost: '127.0.0.1', forwardPort: server.port, seed: 10 });
    t.after(() => relay.close());
    assert.equal(relay.host, '::1');
    const socket = createSocket('udp6');
    t.after(() => socket.close());
    const echoes: string[] = [];
    socket.on('message', (data) => echoes.push(data.toString()));
    for (const text of numbers(20)) socket.send(text, relay.port, '::1');
    await until(() => echoes.length === 20, '20 echoes over IPv6');
    assert.deepEqual(echoes, numbers(20));
  });

  it('evicts the least recently active client beyond maxClients, and forgets idle ones', async (t) => {
    const { relay, client: first } = await setup(t, { maxClients: 1, idleTimeoutMs: 150, seed: 9 });
    const second = await client(t);
    await sendAll(first, relay.port, ['x']);
    await until(() => first.arrivals.length === 1, 'the first echo');
    await sendAll(second, relay.port, ['y']);
    await until(() => second.arrivals.length === 1, 'the second echo');
    assert.deepEqual(relay.stats.clients, { active: 1, seen: 2, expired: 0, evicted: 1 });
    await until(() => relay.stats.clients.active === 0, 'the idle client to expire', 3000);
    assert.deepEqual(relay.stats.clients, { active: 0, seen: 2, expired: 1, evicted: 1 });
  });

  it('close() discards what is queued, stops every timer and closes every socket', async (t) => {
    const count = (list: string[], name: string): number => list.filter((r) => r === name).length;
    const server = await echoServer(t);
    const c = await client(t);
    // The sockets of the tests before this one are gone a turn of the event loop after their close.
    await until(() => count(process.getActiveResourcesInfo(), 'UDPWrap') === 2, 'only this test’s two sockets', 1000);
    const before = process.getActiveResourcesInfo();
    const relay = await startRelay({ forwardHost: '127.0.0.1', forwardPort: server.port, up: { delayMs: 10_000 }, down: { reorder: 1 }, reorderHoldMs: 10_000 });
    await sendAll(c, relay.port, numbers(5));
    await until(() => relay.stats.up.queued === 5, 'five queued');
    const t0 = Date.now();
    await relay.close();
    await relay.close();
    assert.ok(Date.now() - t0 < 1000, 'close does not wait for the queue');
    const s = relay.stats;
    assert.deepEqual([s.up.queued, s.up.discarded, s.clients.active], [0, 5, 0]);
    await until(() => count(process.getActiveResourcesInfo(), 'UDPWrap') === 2, 'the relay’s sockets to be gone', 1000);
    const afterClose = process.getActiveResourcesInfo();
    assert.ok(count(afterClose, 'Timeout') <= count(before, 'Timeout'), `timers left: ${afterClose.join(', ')}`);
  });

  it('refuses bad settings, an unknown host and a port in use', async () => {
    await assert.rejects(startRelay({ forwardHost: '127.0.0.1', forwardPort: 9, impairment: { loss: 2 } }), /loss must be a probability/);
    await assert.rejects(startRelay({ forwardHost: '127.0.0.1', forwardPort: 0 }), /forwardPort/);
    await assert.rejects(startRelay({ forwardHost: '127.0.0.1', forwardPort: 9, maxQueued: 0 }), /maxQueued/);
    await assert.rejects(startRelay({ forwardHost: 'no-such-host.invalid', forwardPort: 9 }), /cannot resolve the forward host "no-such-host.invalid"/);
    const taken = await startRelay({ forwardHost: '127.0.0.1', forwardPort: 9 });
    try {
      await assert.rejects(startRelay({ port: taken.port, forwardHost: '127.0.0.1', forwardPort: 9 }), new RegExp(`cannot listen on udp 127\\.0\\.0\\.1:${taken.port}: .*EADDRINUSE`));
    } finally {
      await taken.close();
    }
  });
});

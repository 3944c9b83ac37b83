import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ErrorCode, Limits, StreamDecoder, encode, type Frame, type Message } from '../../src/protocol/index.ts';
import { listenTcp, tcp, type Link, type Listener } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';
import { transportCompliance } from './compliance.ts';

transportCompliance('tcp', () => tcp, { ordered: true, maxMessage: Limits.MAX_TCP_MESSAGE, connections: true });
transportCompliance('tcp over IPv6', () => tcp, { ordered: true, maxMessage: Limits.MAX_TCP_MESSAGE, connections: true, host: '::1' });

/** A raw client socket that collects the messages it receives. */
async function rawClient(listener: Listener): Promise<{ socket: Socket; messages: Message[]; closed: Promise<void> }> {
  const socket = netConnect({ host: listener.host, port: listener.port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = new StreamDecoder();
  const messages: Message[] = [];
  socket.on('data', (chunk) => {
    for (const f of decoder.write(chunk)) if (f.ok) messages.push(f.message);
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, messages, closed };
}

describe('tcp listener limits', () => {
  const listeners: Listener[] = [];
  const sockets: Socket[] = [];
  after(async () => {
    for (const s of sockets) s.destroy();
    for (const l of listeners) await l.close(100);
  });

  it('answers connections over --max-connections with ERROR BUSY and closes them', async () => {
    const listener = await listenTcp({ port: 0, maxConnections: 2 }, { frame: () => {} });
    listeners.push(listener);
    const a = await rawClient(listener);
    const b = await rawClient(listener);
    sockets.push(a.socket, b.socket);
    await until(() => listener.connections === 2, 'two connections');
    const c = await rawClient(listener);
    sockets.push(c.socket);
    await within(c.closed, 'the third connection to be closed');
    assert.equal(c.messages.length, 1);
    const [busy] = c.messages;
    assert.ok(busy?.type === 'ERROR' && busy.code === ErrorCode.BUSY);
    assert.equal(listener.connections, 2);
    assert.equal(a.socket.destroyed, false);
  });

  it('closes a silent connection after the idle timeout with ERROR IDLE_TIMEOUT', async () => {
    const closes: (Error | undefined)[] = [];
    const listener = await listenTcp({ port: 0, idleTimeoutMs: 150 }, { frame: () => {}, close: (_l, e) => closes.push(e) });
    listeners.push(listener);
    const silent = await rawClient(listener);
    sockets.push(silent.socket);
    await within(silent.closed, 'the idle connection to be closed', 3000);
    const [idle] = silent.messages;
    assert.ok(idle?.type === 'ERROR' && idle.code === ErrorCode.IDLE_TIMEOUT);
    await until(() => closes.length === 1, 'the listener to report the close');
  });

  it('refuses a 2 GB frame at its length prefix and keeps serving others', async () => {
    const frames: Frame[] = [];
    const listener = await listenTcp({ port: 0 }, {
      frame: (link, frame) => {
        frames.push(frame);
        if (frame.ok) link.send(encode({ type: 'PONG', deviceId: 1, seq: 1, pingSeq: frame.message.seq }));
      },
    });
    listeners.push(listener);
    const liar = await rawClient(listener);
    const good = await rawClient(listener);
    sockets.push(liar.socket, good.socket);
    liar.socket.write(Buffer.from('8080808008', 'hex'));
    await until(() => frames.some((f) => !f.ok), 'the refusal');
    const bad = frames.find((f) => !f.ok);
    assert.ok(bad && !bad.ok && bad.error.code === 'MESSAGE_TOO_LARGE');
    const ping = encode({ type: 'PING', deviceId: 1, seq: 3 });
    good.socket.write(Buffer.from([ping.length, ...ping]));
    await until(() => good.messages.length === 1, 'the good client\'s PONG');
  });

  it('drops a peer that does not read once its queue passes the limit', async () => {
    let serverLink: Link | undefined;
    const closes: (Error | undefined)[] = [];
    const listener = await listenTcp({ port: 0, maxQueuedBytes: 64 * 1024 }, {
      open: (l) => (serverLink = l),
      frame: () => {},
      close: (_l, e) => closes.push(e),
    });
    listeners.push(listener);
    const lazy = await rawClient(listener);
    sockets.push(lazy.socket);
    lazy.socket.pause();
    await until(() => serverLink !== undefined, 'the connection');
    const big = encode({ type: 'ERROR', deviceId: 1, seq: 1, code: 1, refSeq: 0, text: 'x'.repeat(255) });
    let sent = 0;
    // Bounded: kernel buffers hold a few MB at most, then the queue limit must trip.
    for (let i = 0; i < 200_000 && serverLink!.send(big); i++) sent++;
    assert.ok(sent < 200_000, 'the link refused to queue more');
    await until(() => closes.length === 1, 'the slow peer to be dropped');
    assert.ok(closes[0] instanceof Error);
  });
});

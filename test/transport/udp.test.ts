import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { Limits, encode, type Frame } from '../../src/protocol/index.ts';
import { listenUdp, udp, type Listener } from '../../src/transport/index.ts';
import { until } from '../support/wait.ts';
import { transportCompliance } from './compliance.ts';

transportCompliance('udp', () => udp, { ordered: false, maxMessage: Limits.MAX_UDP_MESSAGE, connections: false });
transportCompliance('udp over IPv6', () => udp, { ordered: false, maxMessage: Limits.MAX_UDP_MESSAGE, connections: false, host: '::1' });

describe('udp listener', () => {
  const listeners: Listener[] = [];
  after(async () => {
    for (const l of listeners) await l.close();
  });

  async function capture(): Promise<{ listener: Listener; frames: Frame[]; send(bytes: Uint8Array): Promise<void> }> {
    const frames: Frame[] = [];
    const listener = await listenUdp({ port: 0 }, { frame: (_l, f) => frames.push(f) });
    listeners.push(listener);
    const send = (bytes: Uint8Array): Promise<void> =>
      new Promise((resolve, reject) => {
        const s = createSocket('udp4');
        s.send(bytes, listener.port, '127.0.0.1', (error) => {
          s.close();
          if (error) reject(error);
          else resolve();
        });
      });
    return { listener, frames, send };
  }

  it('refuses a datagram over 1200 bytes as MESSAGE_TOO_LARGE', async () => {
    const { frames, send } = await capture();
    const big = encode({ type: 'READINGS', deviceId: 1, seq: 1, baseTime: 0, readings: Array.from({ length: 5 }, () => ({ sensor: 1, delta: 0, type: 'bytes' as const, value: new Uint8Array(250) })) });
    assert.ok(big.length > 1200);
    await send(big);
    await until(() => frames.length === 1, 'the datagram');
    const [f] = frames;
    assert.ok(f && !f.ok && f.error.code === 'MESSAGE_TOO_LARGE');
    assert.equal(f.bytes.length, big.length);
  });

  it('reports a garbage datagram with its size and keeps receiving', async () => {
    const { frames, send } = await capture();
    await send(Uint8Array.of(0xff, 0x00, 0x01));
    await send(encode({ type: 'PING', deviceId: 2, seq: 1 }));
    await until(() => frames.length === 2, 'both datagrams');
    const bad = frames.find((f) => !f.ok);
    const good = frames.find((f) => f.ok);
    assert.ok(bad && !bad.ok && bad.error.code === 'UNSUPPORTED_VERSION' && bad.bytes.length === 3);
    assert.ok(good?.ok && good.message.type === 'PING');
  });
});

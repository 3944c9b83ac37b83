// One suite every transport passes: messages both ways, order where promised, the largest
// message, closing. Transport-specific limits are tested beside each transport.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Limits, encode, type Message, type Reading } from '../../src/protocol/index.ts';
import type { Connection, Link, Listener, Transport } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';

export interface ComplianceOptions {
  /** Messages arrive in the order sent (TCP, memory; not promised by UDP). */
  readonly ordered: boolean;
  /** Largest message the transport carries. */
  readonly maxMessage: number;
  /** The transport has connections whose close the other end sees. */
  readonly connections: boolean;
  readonly host?: string;
}

const ping = (seq: number): Message => ({ type: 'PING', deviceId: 7, seq });

/** A server that answers every PING with a PONG and records what it got. */
async function echoServer(transport: Transport, host: string): Promise<{ listener: Listener; got: Message[]; closed: Link[]; opened: Link[] }> {
  const got: Message[] = [];
  const closed: Link[] = [];
  const opened: Link[] = [];
  const listener = await transport.listen({ host, port: 0 }, {
    open: (link) => opened.push(link),
    frame(link, frame) {
      if (!frame.ok) return;
      got.push(frame.message);
      if (frame.message.type === 'PING') link.send(encode({ type: 'PONG', deviceId: 7, seq: frame.message.seq, pingSeq: frame.message.seq }));
    },
    close: (link) => closed.push(link),
  });
  return { listener, got, closed, opened };
}

export function transportCompliance(name: string, makeTransport: () => Transport, options: ComplianceOptions): void {
  const host = options.host ?? '127.0.0.1';
  describe(`${name} transport compliance`, () => {
    const cleanups: (() => Promise<unknown> | void)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    async function pair(): Promise<{ server: Awaited<ReturnType<typeof echoServer>>; client: Connection; replies: Message[] }> {
      const transport = makeTransport();
      const server = await echoServer(transport, host);
      cleanups.push(() => server.listener.close(100));
      const replies: Message[] = [];
      const client = await transport.connect({ host: server.listener.host, port: server.listener.port }, {
        frame: (_link, frame) => {
          if (frame.ok) replies.push(frame.message);
        },
      });
      cleanups.push(() => client.close());
      return { server, client, replies };
    }

    it('binds a free port when asked for port 0', async () => {
      const { server } = await pair();
      assert.ok(server.listener.port > 0);
    });

    it('carries a message to the server and the reply back', async () => {
      const { server, client, replies } = await pair();
      assert.equal(client.send(encode(ping(1))), true);
      await until(() => replies.length === 1, 'the PONG');
      assert.deepEqual(server.got, [ping(1)]);
      assert.deepEqual(replies, [{ type: 'PONG', deviceId: 7, seq: 1, pingSeq: 1 }]);
    });

    it(`carries 500 messages ${options.ordered ? 'in order' : '(in any order)'}`, async () => {
      const { server, client, replies } = await pair();
      for (let i = 1; i <= 500; i++) client.send(encode(ping(i)));
      await until(() => replies.length === 500, '500 PONGs');
      const seqs = server.got.map((m) => m.seq);
      const expected = Array.from({ length: 500 }, (_, i) => i + 1);
      assert.deepEqual(options.ordered ? seqs : [...seqs].sort((a, b) => a - b), expected);
    });

    it(`carries a message of the largest size (${options.maxMessage} bytes)`, async () => {
      const { server, client } = await pair();
      const text = 'x'.repeat(Limits.MAX_STRING);
      // Fill with ERROR-free READINGS of string values up to the exact size.
      const readings: Reading[] = [];
      let message: Message = { type: 'READINGS', deviceId: 7, seq: 1, baseTime: 0, readings };
      const one = { sensor: 1, delta: 0, type: 'string' as const, value: text };
      while (encode({ ...message, readings: [...readings, one] }, { maxMessageSize: Infinity }).length <= options.maxMessage) readings.push(one);
      const room = options.maxMessage - encode(message, { maxMessageSize: Infinity }).length - 5;
      if (room > 0) readings.push({ sensor: 1, delta: 0, type: 'string' as const, value: 'y'.repeat(Math.min(room, 127)) });
      message = { type: 'READINGS', deviceId: 7, seq: 1, baseTime: 0, readings };
      const bytes = encode(message, { maxMessageSize: options.maxMessage });
      assert.ok(bytes.length > options.maxMessage - 140, `built ${bytes.length} bytes`);
      client.send(bytes);
      await until(() => server.got.length === 1, 'the large message');
      assert.deepEqual(server.got[0], message);
    });

    if (options.connections) {
      it('tells the server when the client closes', async () => {
        const { server, client } = await pair();
        client.send(encode(ping(1)));
        await until(() => server.got.length === 1, 'the PING');
        client.close();
        await within(client.closed, 'the client to close');
        await until(() => server.closed.length === 1, 'the server to see the close');
      });

      it('closes open connections when the listener closes', async () => {
        const { server, client } = await pair();
        client.send(encode(ping(1)));
        await until(() => server.opened.length === 1 && server.got.length === 1, 'the connection');
        await server.listener.close(1000);
        await within(client.closed, 'the client to see the close');
        assert.equal(client.open, false);
      });
    }
  });
}

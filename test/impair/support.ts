// Test support for the relay: a UDP echo server and a client on 127.0.0.1 that record what they
// get and when, paced sending (so that no socket buffer, only the relay, loses anything), and a
// model of what the relay must deliver, computed from the pure decision function.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { decide, type Direction, type Impairment } from '../../src/impair/decisions.ts';
import type { Cleanup } from '../support/cli.ts';

export interface Arrival {
  readonly text: string;
  readonly at: number;
  readonly from: RemoteInfo;
}

export interface Endpoint {
  readonly socket: Socket;
  readonly port: number;
  readonly arrivals: Arrival[];
}

async function endpoint(t: Cleanup, onMessage?: (socket: Socket, data: Buffer, from: RemoteInfo) => void): Promise<Endpoint> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const arrivals: Arrival[] = [];
  socket.on('message', (data, from) => {
    arrivals.push({ text: data.toString(), at: performance.now(), from });
    onMessage?.(socket, data, from);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { socket, port: socket.address().port, arrivals };
}

/** A UDP server that records every datagram and (unless `echo` is false) sends it back. */
export function echoServer(t: Cleanup, echo = true): Promise<Endpoint> {
  return endpoint(t, echo ? (socket, data, from) => socket.send(data, from.port, from.address) : undefined);
}

/** A UDP client socket that records what comes back. */
export function client(t: Cleanup): Promise<Endpoint> {
  return endpoint(t);
}

/**
 * Sends each text to 127.0.0.1:port, in bursts of `burst` with a timer tick between, and returns
 * the send time of each. Bounded by the list given.
 */
export async function sendAll(from: Endpoint, port: number, texts: readonly string[], burst = 10, gapMs = 1): Promise<number[]> {
  const sentAt: number[] = [];
  for (let i = 0; i < texts.length; ) {
    const sends: Promise<void>[] = [];
    for (let j = 0; j < burst && i < texts.length; j++, i++) {
      sentAt.push(performance.now());
      sends.push(new Promise((resolve, reject) => from.socket.send(texts[i]!, port, '127.0.0.1', (error) => (error ? reject(error) : resolve()))));
    }
    await Promise.all(sends);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return sentAt;
}

/** "0", "1", … "n-1". */
export const numbers = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

/**
 * What one direction of one flow delivers for an input sequence, when every datagram arrives
 * before the one held ahead of it would be released by its hold timer and nothing is delayed:
 * drop, send (twice when duplicated), hold back the ones chosen for reordering until the next
 * one is sent, and send what is still held at the end in its order.
 */
export function model<T>(settings: Impairment, seed: number, direction: Direction, input: readonly T[], flow = 0): T[] {
  const out: T[] = [];
  let held: T[] = [];
  input.forEach((item, index) => {
    const d = decide(settings, seed, { direction, flow, index });
    if (d.drop) return;
    const copies: T[] = Array.from({ length: d.copies }, () => item);
    if (d.reorder) held.push(...copies);
    else {
      out.push(...copies, ...held);
      held = [];
    }
  });
  return [...out, ...held];
}

/** Positions whose datagram arrived after a later one: each was overtaken. */
export function overtaken(sequence: readonly number[]): number {
  let count = 0;
  let highest = -1;
  for (const n of sequence) {
    if (n < highest) count++;
    highest = Math.max(highest, n);
  }
  return count;
}

// A lean load generator for the ingest benchmark: N devices, each keeping up to `window`
// READINGS unacknowledged, sending the next as each ACK arrives. It counts ACKs, not their
// contents, so it does the same work against the real server and the bare one.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { StreamDecoder, encode, encodeFrame, type Message, type Reading, type SensorSpec } from '../src/protocol/index.ts';

export const CATALOGUE: SensorSpec[] = [
  { id: 1, type: 'float32', delivery: 'latest', unit: '°C', name: 'temperature' },
  { id: 2, type: 'float32', delivery: 'latest', unit: '%', name: 'humidity' },
  { id: 3, type: 'float64', delivery: 'latest', unit: 'hPa', name: 'pressure' },
  { id: 4, type: 'uint16', delivery: 'latest', unit: 'mV', name: 'battery' },
  { id: 5, type: 'int8', delivery: 'latest', unit: 'dBm', name: 'rssi' },
];

const MIX: Reading[] = [
  { sensor: 1, delta: 0, type: 'float32', value: 21.5 },
  { sensor: 2, delta: 0, type: 'float32', value: 48.25 },
  { sensor: 3, delta: 0, type: 'float64', value: 1013.25 },
  { sensor: 4, delta: 0, type: 'uint16', value: 3712 },
  { sensor: 5, delta: 0, type: 'int8', value: -67 },
];

export function readingsMessage(deviceId: number, seq: number, batch: number): Message {
  const readings = Array.from({ length: batch }, (_, i) => ({ ...MIX[i % MIX.length]!, delta: i }) as Reading);
  return { type: 'READINGS', deviceId, seq, baseTime: Date.now(), readings };
}

export interface LoadOptions {
  readonly transport: 'tcp' | 'udp';
  readonly port: number;
  readonly devices: number;
  readonly batch: number;
  readonly window: number;
  readonly seconds: number;
  /** Send HELLO first (the real server needs it; the bare one answers it like anything else). */
  readonly firstId: number;
}

export interface LoadResult {
  readonly messages: number;
  readonly readings: number;
  readonly seconds: number;
  readonly bytesSent: number;
}

interface Peer {
  send(bytes: Uint8Array): void;
  close(): void;
}

/** Runs the load for `seconds` after every device's HELLO is acknowledged. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const session = Math.floor(Date.now() / 1000);
  let acked = 0;
  let bytesSent = 0;
  let measuring = false;
  let stopping = false;
  const peers: Peer[] = [];
  const ready: Promise<void>[] = [];
  const starters: (() => void)[] = [];

  for (let d = 0; d < o.devices; d++) {
    const deviceId = o.firstId + d;
    let seq = 1;
    let outstanding = 0;
    let helloDone: () => void = () => {};
    ready.push(new Promise((resolve) => (helloDone = resolve)));
    let helloAcked = false;
    let lastAck = performance.now();
    const make = (): Uint8Array => {
      const m = readingsMessage(deviceId, ++seq, o.batch);
      return o.transport === 'tcp' ? encodeFrame(m) : encode(m);
    };
    const fill = (peer: Peer): void => {
      while (!stopping && outstanding < o.window) {
        const bytes = make();
        peer.send(bytes);
        bytesSent += bytes.length;
        outstanding++;
      }
    };
    const onAck = (peer: Peer): void => {
      lastAck = performance.now();
      if (!helloAcked) {
        helloAcked = true;
        helloDone();
        return;
      }
      outstanding--;
      if (measuring) acked++;
      if (measuring) fill(peer);
    };
    const helloMessage: Message = { type: 'HELLO', deviceId, seq: 1, session, resumeSeq: 1, intervalMs: 1, model: 'bench', firmware: '1', sensors: CATALOGUE };
    const hello = encode(helloMessage);
    let peer: Peer;
    if (o.transport === 'tcp') {
      const socket: Socket = connect({ host: '127.0.0.1', port: o.port, noDelay: true });
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const decoder = new StreamDecoder();
      // Like the server, a device stack writes what one turn produces in one go.
      let corked = false;
      peer = {
        send: (b) => {
          if (!corked) {
            corked = true;
            socket.cork();
            process.nextTick(() => {
              corked = false;
              socket.uncork();
            });
          }
          socket.write(b);
        },
        close: () => socket.destroy(),
      };
      socket.on('data', (chunk) => {
        for (const f of decoder.write(chunk)) if (f.ok && f.message.type === 'ACK') onAck(peer);
      });
      socket.on('error', () => {});
      peer.send(encodeFrame(helloMessage));
    } else {
      const socket: UdpSocket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.connect(o.port, '127.0.0.1', () => resolve()));
      peer = { send: (b) => socket.send(b), close: () => socket.close() };
      socket.on('message', () => onAck(peer));
      socket.on('error', () => {});
      peer.send(hello);
      // A datagram lost on loopback under load would stall the window: release it after a pause.
      const watchdog = setInterval(() => {
        if (stopping) return clearInterval(watchdog);
        if (!helloAcked && performance.now() - lastAck > 200) peer.send(hello);
        if (measuring && outstanding > 0 && performance.now() - lastAck > 20) {
          outstanding = 0;
          fill(peer);
        }
      }, 10);
    }
    peers.push(peer);
    starters.push(() => fill(peer));
  }
  await Promise.all(ready);
  measuring = true;
  const started = performance.now();
  for (const start of starters) start();
  await new Promise((resolve) => setTimeout(resolve, o.seconds * 1000));
  const seconds = (performance.now() - started) / 1000;
  const messages = acked;
  stopping = true;
  measuring = false;
  for (const p of peers) p.close();
  return { messages, readings: messages * o.batch, seconds, bytesSent };
}

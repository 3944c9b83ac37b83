// The baseline of `npm run bench`: a TCP and UDP server that does no decoding and no storing.
// It answers every message with the same fixed ACK bytes the real server would send, so the
// same bytes cross the sockets; TCP messages are found by their fixed size (argv[2]), not parsed.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { encode, encodeFrame } from '../src/protocol/index.ts';

const messageSize = Number(process.argv[2]);
if (!Number.isInteger(messageSize) || messageSize < 1) throw new Error('usage: bare-server.ts <framed message size>');
const ack = { type: 'ACK', deviceId: 1, seq: 1, status: 'OK', ackSeq: 1000, rxTime: Date.now(), holdUs: 100 } as const;
const ackFrame = Buffer.from(encodeFrame(ack));
const ackDatagram = Buffer.from(encode(ack));

const tcp = createServer({ noDelay: true }, (socket) => {
  let carry = 0;
  socket.on('data', (chunk) => {
    carry += chunk.length;
    const n = Math.floor(carry / messageSize);
    carry -= n * messageSize;
    if (n > 0) socket.write(n === 1 ? ackFrame : Buffer.concat(Array.from({ length: n }, () => ackFrame)));
  });
  socket.on('error', () => socket.destroy());
});
const udp = createSocket('udp4');
udp.on('message', (_msg, peer) => udp.send(ackDatagram, peer.port, peer.address));
tcp.listen(0, '127.0.0.1', () => {
  udp.bind(0, '127.0.0.1', () => {
    const t = tcp.address();
    const u = udp.address();
    if (t === null || typeof t === 'string') throw new Error('no TCP address');
    process.stdout.write(`listening tcp 127.0.0.1:${t.port}\nlistening udp 127.0.0.1:${u.port}\n`);
  });
});
process.on('SIGTERM', () => process.exit(0));

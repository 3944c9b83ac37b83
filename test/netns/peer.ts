// The programs the namespace tests run inside a namespace (node --import tsx test/netns/peer.ts MODE …).
// Each prints one line per thing the test waits for, and ends by itself within a bounded time.
//   udp-echo ADDR            echoes datagrams; prints "ready PORT"; ends on stdin closing
//   udp-ping ADDR PORT       one datagram, resent every 50 ms (at most 100 times) until echoed; prints "pong"
//   udp-sink ADDR            counts data datagrams until an end marker; prints "ready PORT", then
//                            "count N"; ends on "stop" on stdin
//   udp-blast ADDR PORT N    sends N data datagrams (paced), prints "sent N", then end markers every
//                            5 ms (at most 1000) until "stop" on stdin; prints "markers M"
//   tcp-sink ADDR            accepts one connection; prints "ready PORT", then "received BYTES SHA256"
//   tcp-send ADDR PORT BYTES sends a seeded pseudo-random payload; prints "sent BYTES SHA256"
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, createServer, isIPv6 } from 'node:net';
import { createInterface } from 'node:readline';
import { createRandom } from '../../src/device/random.ts';

const [mode, address = '', ...rest] = process.argv.slice(2);
const udpType = isIPv6(address) ? 'udp6' : 'udp4';
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

// Nothing here may outlive its test: a hard stop after 60 s whatever happens.
setTimeout(() => {
  process.stderr.write(`peer ${mode}: gave up after 60 s\n`);
  process.exit(2);
}, 60_000).unref();

function onStdinLine(fn: (line: string) => void, onEnd?: () => void): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', fn);
  if (onEnd) rl.on('close', onEnd);
}

function payload(bytes: number): Buffer {
  const random = createRandom(0x5eed);
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) out.writeUInt32LE(Math.floor(random.next() * 0x1_0000_0000), i);
  return out.subarray(0, bytes);
}

switch (mode) {
  case 'udp-echo': {
    const socket = createSocket(udpType);
    socket.on('message', (data, from) => socket.send(data, from.port, from.address));
    socket.bind(0, address, () => say(`ready ${socket.address().port}`));
    onStdinLine(() => {}, () => socket.close());
    break;
  }
  case 'udp-ping': {
    const socket = createSocket(udpType);
    let tries = 0;
    const timer = setInterval(() => {
      if (++tries > 100) {
        say('no pong');
        process.exit(1);
      }
      socket.send('ping', Number(rest[0]), address);
    }, 50);
    socket.on('message', () => {
      clearInterval(timer);
      say('pong');
      socket.close();
    });
    socket.send('ping', Number(rest[0]), address);
    break;
  }
  case 'udp-sink': {
    const socket = createSocket({ type: udpType, recvBufferSize: 4 << 20 });
    let count = 0;
    let counted = false;
    socket.on('message', (data) => {
      if (counted) return;
      if (data[0] === 0x64 /* d */) count++;
      else if (data.toString() === 'end') {
        counted = true;
        say(`count ${count}`);
      }
    });
    socket.bind(0, address, () => say(`ready ${socket.address().port}`));
    // Open until told, so that late end markers find a socket (no ICMP errors on the link).
    onStdinLine((line) => {
      if (line.trim() !== 'stop') return;
      socket.close();
      process.stdin.destroy();
    });
    break;
  }
  case 'udp-blast': {
    const socket = createSocket(udpType);
    const port = Number(rest[0]);
    const total = Number(rest[1]);
    const send = (data: string): Promise<void> => new Promise((resolve) => socket.send(data, port, address, () => resolve()));
    let markers = 0;
    let markerTimer: NodeJS.Timeout | undefined;
    onStdinLine((line) => {
      if (line.trim() !== 'stop') return;
      clearInterval(markerTimer);
      say(`markers ${markers}`);
      socket.close();
      process.stdin.destroy();
    });
    // Paced in bursts, so that the receiver's socket buffer is never what loses a datagram.
    for (let i = 0; i < total; ) {
      const burst: Promise<void>[] = [];
      for (let j = 0; j < 20 && i < total; j++, i++) burst.push(send(`d${i}`));
      await Promise.all(burst);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    say(`sent ${total}`);
    markerTimer = setInterval(() => {
      if (++markers > 1000) clearInterval(markerTimer);
      else socket.send('end', port, address);
    }, 5);
    break;
  }
  case 'tcp-sink': {
    const server = createServer((socket) => {
      const hash = createHash('sha256');
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      socket.on('end', () => {
        say(`received ${bytes} ${hash.digest('hex')}`);
        socket.end();
        server.close();
      });
    });
    server.listen(0, address, () => say(`ready ${(server.address() as { port: number }).port}`));
    break;
  }
  case 'tcp-send': {
    const data = payload(Number(rest[1]));
    const socket = connect(Number(rest[0]), address, () => {
      socket.end(data, () => say(`sent ${data.length} ${createHash('sha256').update(data).digest('hex')}`));
    });
    socket.resume();
    break;
  }
  default:
    process.stderr.write(`peer: unknown mode ${mode}\n`);
    process.exit(2);
}

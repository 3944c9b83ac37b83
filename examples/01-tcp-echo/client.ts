// TCP echo client: connect, send "Hola, mundo", read the echo back and print it as Python would:
// Received b'Hola, mundo'
import { connect } from 'node:net';
import { once } from 'node:events';
import { parseEndpoint, run } from '../lib/cli.ts';
import { bytesRepr } from '../lib/pyrepr.ts';

const USAGE = "npx tsx examples/01-tcp-echo/client.ts [host=127.0.0.1] [port=65432] [message='Hola, mundo']";

run(USAGE, async (args) => {
  const { host, port, rest } = parseEndpoint(args, { host: '127.0.0.1', port: 65432 }, 'client');
  const message = Buffer.from(rest[0] ?? 'Hola, mundo');
  const socket = connect({ host, port }); // socket() + connect()
  await once(socket, 'connect'); // rejects with ECONNREFUSED when nobody listens
  socket.write(message); // sendall(): Node queues what the kernel cannot take yet

  // TCP may deliver the echo in several pieces: collect until we have as much as we sent.
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    received += chunk.length;
    if (received >= message.length) break; // leaving the loop destroys the socket: close()
  }
  if (received < message.length) {
    throw new Error(`server closed the connection after ${received} of ${message.length} bytes`);
  }
  console.log(`Received ${bytesRepr(Buffer.concat(chunks))}`);
});

// TCP echo server: accept one connection, print who it is, send back every byte it receives and
// finish when the client closes its side. Prints "Connected by ('127.0.0.1', 54321)" like the lab.
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { parseEndpoint, run } from '../lib/cli.ts';
import { listen, peerRepr } from '../lib/net.ts';

const USAGE = 'npx tsx examples/01-tcp-echo/server.ts [host=127.0.0.1] [port=65432]';

run(USAGE, async (args) => {
  const { host, port } = parseEndpoint(args, { host: '127.0.0.1', port: 65432 }, 'server');
  // allowHalfOpen: when the client shuts down its sending side we can still finish echoing,
  // then close ours ourselves (Node would otherwise close both directions at once).
  const server = createServer({ allowHalfOpen: true }); // socket(); Node sets SO_REUSEADDR itself
  await listen(server, host, port); // bind() + listen()
  const [conn] = (await once(server, 'connection')) as [Socket]; // accept()
  server.close(); // one client only, as in the lab: stop accepting more
  console.log(`Connected by ${peerRepr(conn)}`);
  // The echo loop (recv() until b'', sendall() each piece) is a stream piped into itself:
  // pipeline() waits for 'drain' when the client reads slowly (backpressure) and, once the client
  // has closed its side, ends ours after the last byte went out.
  await pipeline(conn, conn);
});

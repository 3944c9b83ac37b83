// Concurrent TCP server: every client gets its own session, served side by side on one thread.
// Where the Python lab starts a thread per accept(), Node calls the connection handler once per
// client and interleaves the sessions as their data arrives.
// Prints:
//   [NEW CONNECTION] ('127.0.0.1', 54321) connected
//   [ACTIVE CONNECTIONS] 1
//   [('127.0.0.1', 54321)] Hola, servidor
//   [DISCONNECTED] ('127.0.0.1', 54321)
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { parseEndpoint, run } from '../lib/cli.ts';
import { LineReader } from '../lib/lines.ts';
import { listen, peerRepr } from '../lib/net.ts';
import { BYE, replyTo, writeLine } from './protocol.ts';

const USAGE = 'npx tsx examples/05-concurrent/server.ts [host=127.0.0.1] [port=65434]';

let active = 0;

async function serve(socket: Socket): Promise<void> {
  const who = peerRepr(socket);
  active++;
  console.log(`[NEW CONNECTION] ${who} connected`);
  console.log(`[ACTIVE CONNECTIONS] ${active}`);
  socket.once('close', () => {
    active--;
    console.log(`[DISCONNECTED] ${who}`);
  });
  try {
    for await (const line of new LineReader(socket)) {
      console.log(`[${who}] ${line}`);
      await writeLine(socket, replyTo(line));
      if (line === BYE) break; // the client said goodbye: end its session
    }
  } catch (err) {
    // A reset or an over-long line ends this session only; the other clients carry on.
    console.log(`[ERROR] ${who} ${err instanceof Error ? err.message : String(err)}`);
  }
  socket.end(); // FIN after anything still queued
}

run(USAGE, async (args) => {
  const { host, port } = parseEndpoint(args, { host: '127.0.0.1', port: 65434 }, 'server');
  const server = createServer((socket) => void serve(socket));
  await listen(server, host, port);
});

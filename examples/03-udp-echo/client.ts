// UDP echo client: send "Hola, mundo" to the echo server and print the datagram that comes back:
// Received b'Hola, mundo' from ('127.0.0.1', 12345)
// UDP may lose datagrams and nobody tells the sender, so the client gives up after a timeout.
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { UsageError, parseEndpoint, run } from '../lib/cli.ts';
import { udpType } from '../lib/net.ts';
import { addrRepr, bytesRepr } from '../lib/pyrepr.ts';

const USAGE =
  "npx tsx examples/03-udp-echo/client.ts [--timeout=seconds (2)] [host=127.0.0.1] [port=12345] [message='Hola, mundo']";

run(USAGE, async (argv) => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { timeout: { type: 'string' } } });
  const timeout = Number(values.timeout ?? '2');
  if (!(timeout > 0)) throw new UsageError(`invalid timeout '${values.timeout}': expected a number of seconds > 0`);
  const { host, port, rest } = parseEndpoint(positionals, { host: '127.0.0.1', port: 12345 }, 'client');
  const message = Buffer.from(rest[0] ?? 'Hola, mundo');

  const socket = createSocket(udpType(host));
  try {
    socket.send(message, port, host); // sendto(); binds an ephemeral port first, like Python does
    // recvfrom() with settimeout(): wait for one datagram, but not for ever.
    const [data, from] = (await once(socket, 'message', { signal: AbortSignal.timeout(timeout * 1000) }).catch(
      (err: unknown) => {
        if (err instanceof Error && err.name === 'AbortError') throw new Error(`no reply from ${host}:${port} within ${timeout} s`);
        throw err;
      },
    )) as [Buffer, RemoteInfo];
    console.log(`Received ${bytesRepr(data)} from ${addrRepr(from)}`);
  } finally {
    socket.close();
  }
});

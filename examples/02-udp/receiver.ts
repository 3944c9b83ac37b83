// UDP receiver: bind a port, wait for one datagram and print it like the lab does:
// received message: b'Hola, mundo!'
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { parseEndpoint, run } from '../lib/cli.ts';
import { bindUdp, udpType } from '../lib/net.ts';
import { bytesRepr } from '../lib/pyrepr.ts';

const USAGE = 'npx tsx examples/02-udp/receiver.ts [host=127.0.0.1] [port=5005]';

run(USAGE, async (args) => {
  const { host, port } = parseEndpoint(args, { host: '127.0.0.1', port: 5005 }, 'server');
  const socket = createSocket(udpType(host)); // socket(AF_INET, SOCK_DGRAM)
  await bindUdp(socket, host, port); // bind()
  // recvfrom(): each 'message' event is one whole datagram and the address it came from.
  const [data] = (await once(socket, 'message')) as [Buffer, RemoteInfo];
  console.log(`received message: ${bytesRepr(data)}`);
  socket.close();
});

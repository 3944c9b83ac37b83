// UDP sender: bind port 0 (the OS picks the source port), send "Hola, mundo!" to the receiver.
// Prints the target like the lab does, plus the source port the OS chose.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { parseEndpoint, run } from '../lib/cli.ts';
import { udpType } from '../lib/net.ts';
import { bytesRepr } from '../lib/pyrepr.ts';

const USAGE = "npx tsx examples/02-udp/sender.ts [host=127.0.0.1] [port=5005] [message='Hola, mundo!']";

run(USAGE, async (args) => {
  const { host, port, rest } = parseEndpoint(args, { host: '127.0.0.1', port: 5005 }, 'client');
  const message = Buffer.from(rest[0] ?? 'Hola, mundo!');
  console.log(`UDP target IP: ${host}`);
  console.log(`UDP target port: ${port}`);
  console.log(`message: ${bytesRepr(message)}`);
  const socket = createSocket(udpType(host));
  socket.bind(0); // bind(('', 0)): any local address, a port chosen by the OS
  await once(socket, 'listening');
  console.log(`UDP source port: ${socket.address().port}`);
  // sendto(): no connection, no acknowledgement. The callback only says the datagram left this
  // host; whether anything was listening is never reported back.
  await new Promise<void>((resolve, reject) => socket.send(message, port, host, (err) => (err ? reject(err) : resolve())));
  socket.close();
});

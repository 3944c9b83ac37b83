// UDP echo server: send every datagram straight back to whoever sent it, for ever.
// Prints "Received b'Hola, mundo' from ('127.0.0.1', 54321)" for each one.
import { createSocket } from 'node:dgram';
import { parseEndpoint, run } from '../lib/cli.ts';
import { bindUdp, udpType } from '../lib/net.ts';
import { addrRepr, bytesRepr } from '../lib/pyrepr.ts';

const USAGE = 'npx tsx examples/03-udp-echo/server.ts [host=127.0.0.1] [port=12345]';

run(USAGE, async (args) => {
  const { host, port } = parseEndpoint(args, { host: '127.0.0.1', port: 12345 }, 'server');
  const socket = createSocket(udpType(host));
  // The `while True: recvfrom(); sendto()` loop becomes a 'message' handler: Node calls it once per
  // datagram, however many clients there are. There is no connection to accept or to close.
  socket.on('message', (data, from) => {
    console.log(`Received ${bytesRepr(data)} from ${addrRepr(from)}`);
    socket.send(data, from.port, from.address, (err) => {
      if (err) console.error(`error: reply to ${addrRepr(from)} failed: ${err.message}`);
    });
  });
  await bindUdp(socket, host, port);
});

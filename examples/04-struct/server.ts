// Binary data with a fixed layout, server side: accept one client, read 12-byte records laid out as
// "=iif", and print each one's hex and unpacked values the way the lab's Python server does:
//   received b'0100000004000000cdcc2c40'
//   unpacked: (1, 4, 2.700000047683716)
// (2.7 does not survive a 32-bit float exactly: 2.700000047683716 is the nearest float32.)
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { parseEndpoint, run } from '../lib/cli.ts';
import { listen, peerRepr } from '../lib/net.ts';
import { floatRepr, hexlifyRepr, tupleRepr } from '../lib/pyrepr.ts';
import { calcsize, unpack } from '../lib/struct.ts';
import { FORMAT } from './format.ts';

const USAGE = 'npx tsx examples/04-struct/server.ts [host=127.0.0.1] [port=65433]';
const SIZE = calcsize(FORMAT); // 12

run(USAGE, async (args) => {
  const { host, port } = parseEndpoint(args, { host: '127.0.0.1', port: 65433 }, 'server');
  const server = createServer();
  await listen(server, host, port);
  const [conn] = (await once(server, 'connection')) as [Socket];
  server.close();
  console.log(`Connected by ${peerRepr(conn)}`);

  // TCP does not keep the 12 bytes together: they may come in pieces, or glued to the next record.
  let pending = Buffer.alloc(0);
  for await (const chunk of conn as AsyncIterable<Buffer>) {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= SIZE) {
      const record = pending.subarray(0, SIZE);
      pending = pending.subarray(SIZE);
      console.log(`received ${hexlifyRepr(record)}`);
      const [a, b, c] = unpack(FORMAT, record);
      console.log(`unpacked: ${tupleRepr([String(a), String(b), floatRepr(c)])}`);
    }
  }
  if (pending.length > 0) throw new Error(`connection closed in the middle of a record (${pending.length} of ${SIZE} bytes)`);
});

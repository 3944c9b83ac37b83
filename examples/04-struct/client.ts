// Binary data with a fixed layout, client side: pack (1, 4, 2.7) exactly like Python's
// struct.pack("=iif", 1, 4, 2.7), print the hex and send the 12 bytes. Prints, as the lab does:
//   values = (1, 4, 2.7)
//   sending b'0100000004000000cdcc2c40'
import { connect } from 'node:net';
import { once } from 'node:events';
import { UsageError, parseEndpoint, run } from '../lib/cli.ts';
import { floatRepr, hexlifyRepr, tupleRepr } from '../lib/pyrepr.ts';
import { StructError, pack } from '../lib/struct.ts';
import { DEFAULT_VALUES, FORMAT } from './format.ts';

const USAGE = 'npx tsx examples/04-struct/client.ts [host=127.0.0.1] [port=65433] [int int float (1 4 2.7)]';

function parseValues(texts: string[]): [number, number, number] {
  if (texts.length === 0) return [...DEFAULT_VALUES];
  const [a, b, c] = texts;
  if (texts.length !== 3 || a === undefined || b === undefined || c === undefined) {
    throw new UsageError(`expected three values (int int float), got ${texts.length}`);
  }
  const int = (t: string): number => {
    if (!/^[-+]?\d+$/.test(t)) throw new UsageError(`'${t}' is not an integer`);
    return Number(t);
  };
  const float = Number(c);
  if (c.trim() === '' || (Number.isNaN(float) && c.toLowerCase() !== 'nan')) throw new UsageError(`'${c}' is not a number`);
  return [int(a), int(b), float];
}

run(USAGE, async (args) => {
  const { host, port, rest } = parseEndpoint(args, { host: '127.0.0.1', port: 65433 }, 'client');
  const values = parseValues(rest);
  let data: Buffer;
  try {
    data = pack(FORMAT, ...values);
  } catch (err) {
    // e.g. 3000000000 does not fit in an 'i': say so as a usage error
    if (err instanceof StructError) throw new UsageError(err.message);
    throw err;
  }
  console.log(`values = ${tupleRepr([String(values[0]), String(values[1]), floatRepr(values[2])])}`);
  console.log(`sending ${hexlifyRepr(data)}`);

  const socket = connect({ host, port });
  await once(socket, 'connect');
  socket.end(data); // sendall() then close(): end() flushes what is queued before the FIN
  await once(socket, 'close');
});

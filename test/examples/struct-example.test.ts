// Example 4, binary data with a fixed layout: the "=iif" client and server, in both directions
// against the lab's Python programs, which use struct.pack / struct.unpack themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, requireAll } from '../support/requires.ts';
import { example, python } from './support/proc.ts';

requireAll(command('python3'));

const LAB_CLIENT = ['values = (1, 4, 2.7)', "sending b'0100000004000000cdcc2c40'"];
const LAB_SERVER = ["received b'0100000004000000cdcc2c40'", 'unpacked: (1, 4, 2.700000047683716)'];
const records = (lines: string[]): string[] => lines.filter((l) => /^(received|unpacked)/.test(l));

test('TS client to TS server: the 12 bytes of struct.pack("=iif", 1, 4, 2.7)', async (t) => {
  const server = example(t, '04-struct/server.ts', ['127.0.0.1', 0]);
  const client = example(t, '04-struct/client.ts', ['127.0.0.1', await server.port()]);
  assert.deepEqual(await client.success(), LAB_CLIENT);
  assert.deepEqual(records(await server.success()), LAB_SERVER);
  assert.match(server.lines[1] ?? '', /^Connected by \('127\.0\.0\.1', \d+\)$/);
});

test('Python client to TS server: the TS server prints what the Python server prints', async (t) => {
  // Several records in one connection, so they arrive glued together or split.
  const values = ['1', '4', '2.7', '-2147483648', '2147483647', '-0.0', '0', '-1', '1e-45', '7', '8', '3.4e38'];
  const outputs: string[][] = [];
  for (const server of [example(t, '04-struct/server.ts', ['127.0.0.1', 0]), python(t, 'struct_server.py', ['127.0.0.1', 0])]) {
    const client = python(t, 'struct_client.py', ['127.0.0.1', await server.port(), ...values]);
    const sent = await client.success();
    assert.deepEqual(sent.slice(0, 2), LAB_CLIENT);
    outputs.push(records(await server.success()));
  }
  const [ts, py] = outputs;
  assert.equal(ts?.length, 8);
  assert.deepEqual(ts, py);
  assert.deepEqual(ts?.slice(0, 2), LAB_SERVER);
  assert.deepEqual(ts?.slice(2, 4), ["received b'00000080ffffff7f00000080'", 'unpacked: (-2147483648, 2147483647, -0.0)']);
});

test('TS client to Python server: Python unpacks what the TS client packed', async (t) => {
  for (const values of [[], ['-7', '123456', '-1.5e-3']]) {
    const server = python(t, 'struct_server.py', ['127.0.0.1', 0]);
    const client = example(t, '04-struct/client.ts', ['127.0.0.1', await server.port(), ...values]);
    const printed = await client.success();
    const got = records(await server.success());
    // Python's received hex is the hex the TS client said it sent.
    assert.equal(got[0], printed[1]?.replace(/^sending/, 'received'));
    if (values.length === 0) assert.deepEqual(got, LAB_SERVER);
    else assert.deepEqual(got, ["received b'f9ffffff40e20100a69bc4ba'", 'unpacked: (-7, 123456, -0.001500000013038516)']);
  }
});

test('the TS client prints what the lab Python client prints, for the same values', async (t) => {
  const values = ['-1', '0', '1e-10'];
  const [sink1, sink2] = [example(t, '04-struct/server.ts', ['127.0.0.1', 0]), example(t, '04-struct/server.ts', ['127.0.0.1', 0])];
  const py = await python(t, 'struct_client.py', ['127.0.0.1', await sink1.port(), ...values]).success();
  const ts = await example(t, '04-struct/client.ts', ['127.0.0.1', await sink2.port(), ...values]).success();
  assert.deepEqual(ts, py);
  assert.deepEqual(ts, ['values = (-1, 0, 1e-10)', "sending b'ffffffff00000000ffe6db2e'"]);
});

test('bad values and a record cut short are reported, not ignored', async (t) => {
  const tooBig = example(t, '04-struct/client.ts', ['127.0.0.1', 9, '2147483648', '0', '0']);
  assert.equal((await tooBig.exit()).code, 2);
  assert.match(tooBig.stderr, /'i' format requires -2147483648 <= number <= 2147483647/);
  const notFloat = example(t, '04-struct/client.ts', ['127.0.0.1', 9, '1', '2', 'pi']);
  assert.equal((await notFloat.exit()).code, 2);
  assert.match(notFloat.stderr, /'pi' is not a number/);

  // 18 bytes: one record and half of another
  const server = example(t, '04-struct/server.ts', ['127.0.0.1', 0]);
  const port = await server.port();
  await python(t, 'tcp_echo_client.py', ['127.0.0.1', port, '--bulk', 18]).exit();
  const exit = await server.exit();
  assert.equal(exit.code, 1);
  assert.match(server.stderr, /connection closed in the middle of a record \(6 of 12 bytes\)/);
  assert.deepEqual(records(server.lines), ["received b'000102030405060708090a0b'", 'unpacked: (50462976, 117835012, 2.658462758989161e-32)']);
});

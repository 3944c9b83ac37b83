// Example 1, TCP echo: the TypeScript pair over loopback, and each side against the lab's Python.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, requireAll } from '../support/requires.ts';
import { example, python } from './support/proc.ts';

requireAll(command('python3'));

const CONNECTED = /^Connected by \('127\.0\.0\.1', (\d+)\)$/;

test('TS client and TS server echo "Hola, mundo"', async (t) => {
  const server = example(t, '01-tcp-echo/server.ts', ['127.0.0.1', 0]);
  const port = await server.port();
  assert.notEqual(port, 0, 'the server prints the port the OS really bound');
  const client = example(t, '01-tcp-echo/client.ts', ['127.0.0.1', port]);
  assert.deepEqual(await client.success(), ["Received b'Hola, mundo'"]);
  await server.line(CONNECTED);
  await server.success(); // one connection, then the server is done
  assert.equal(server.lines.length, 2, server.describe());
});

test('the lab Python client gets its bytes back from the TS server, and prints what the TS client prints', async (t) => {
  const server = example(t, '01-tcp-echo/server.ts', ['127.0.0.1', 0]);
  const port = await server.port();
  const client = python(t, 'tcp_echo_client.py', ['127.0.0.1', port]);
  assert.deepEqual(await client.success(), ["Received b'Hola, mundo'"]);
  await server.success();
});

test('the TS server echoes 1 MiB of every byte value intact, and sees the half-close', async (t) => {
  const server = example(t, '01-tcp-echo/server.ts', ['127.0.0.1', 0]);
  const client = python(t, 'tcp_echo_client.py', ['127.0.0.1', await server.port(), '--bulk', 1 << 20]);
  assert.deepEqual(await client.success(), ['bulk sent=1048576 received=1048576 identical=True']);
  await server.success();
});

test('the TS client against the lab Python server: the server receives exactly the bytes sent', async (t) => {
  const server = python(t, 'tcp_echo_server.py', ['127.0.0.1', 0]);
  const port = await server.port();
  const message = "¿Qué tal? \\ 'quotes' \"too\"";
  const client = example(t, '01-tcp-echo/client.ts', ['127.0.0.1', port, message]);
  const [line] = await client.success();
  // Python's repr of the same bytes, computed by Python itself from what it received:
  const total = (await server.line(/^total (.*)$/))[1];
  assert.equal(line, `Received ${total}`);
  assert.equal(total, `b'\\xc2\\xbfQu\\xc3\\xa9 tal? \\\\ \\'quotes\\' "too"'`);
  assert.ok(Number((await server.line(CONNECTED))[1]) > 0, 'the Python server saw a real client port');
  await server.success();
});

test('bad arguments and refused connections fail with a clear message', async (t) => {
  const badPort = example(t, '01-tcp-echo/server.ts', ['127.0.0.1', 'http']);
  assert.equal((await badPort.exit()).code, 2);
  assert.match(badPort.stderr, /invalid port 'http': expected an integer from 0 to 65535/);

  const zero = example(t, '01-tcp-echo/client.ts', ['127.0.0.1', 0]);
  assert.equal((await zero.exit()).code, 2);
  assert.match(zero.stderr, /invalid port '0': expected an integer from 1 to 65535/);

  // A port that was just free: bind one with the server, let it finish, then connect to it.
  const server = example(t, '01-tcp-echo/server.ts', ['127.0.0.1', 0]);
  const port = await server.port();
  await example(t, '01-tcp-echo/client.ts', ['127.0.0.1', port]).success();
  await server.success();
  const refused = example(t, '01-tcp-echo/client.ts', ['127.0.0.1', port]);
  assert.equal((await refused.exit()).code, 1);
  assert.match(refused.stderr, /^error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/m);
});

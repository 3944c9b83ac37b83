// Example 3, UDP echo: the TS pair, each side against Python, many clients on one socket, timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, requireAll } from '../support/requires.ts';
import { example, python } from './support/proc.ts';

requireAll(command('python3'));

test('TS client and TS server: the datagram comes back, both sides print it', async (t) => {
  const server = example(t, '03-udp-echo/server.ts', ['127.0.0.1', 0]);
  const port = await server.port();
  const client = example(t, '03-udp-echo/client.ts', ['127.0.0.1', port]);
  assert.deepEqual(await client.success(), [`Received b'Hola, mundo' from ('127.0.0.1', ${port})`]);
  const [, clientPort] = await server.line(/^Received b'Hola, mundo' from \('127\.0\.0\.1', (\d+)\)$/);
  assert.notEqual(Number(clientPort), port);
});

test('one TS server socket serves several clients, each reply going to its sender', async (t) => {
  const server = example(t, '03-udp-echo/server.ts', ['127.0.0.1', 0]);
  const port = await server.port();
  const clients = ['uno', 'dos', 'tres'].map((word) => example(t, '03-udp-echo/client.ts', ['127.0.0.1', port, word]));
  const outputs = await Promise.all(clients.map((c) => c.success()));
  assert.deepEqual(outputs, ['uno', 'dos', 'tres'].map((w) => [`Received b'${w}' from ('127.0.0.1', ${port})`]));
  const seen = await server.linesMatching(/^Received b'(\w+)' from \('127\.0\.0\.1', (\d+)\)$/, 3);
  assert.deepEqual(seen.map((m) => m[1]).sort(), ['dos', 'tres', 'uno']);
  assert.equal(new Set(seen.map((m) => m[2])).size, 3, 'each client had its own source port');
});

test('the Python client gets binary datagrams back byte for byte, the empty one and a 60000-byte one included', async (t) => {
  const server = example(t, '03-udp-echo/server.ts', ['127.0.0.1', 0]);
  const payloads = ['00ff7f80', '', Buffer.from('¡Hola, mundo!').toString('hex'), 'ab'.repeat(60_000)];
  const client = python(t, 'udp_echo_client.py', ['127.0.0.1', await server.port(), '--hex', ...payloads]);
  assert.deepEqual(await client.success(), payloads.map((p) => `echo ${p} -> ${p}`));
  await server.line(/^Received b'' from /);
});

test('the lab Python client prints what the TS client prints, against the Python server too', async (t) => {
  const tsServer = example(t, '03-udp-echo/server.ts', ['127.0.0.1', 0]);
  const pyServer = python(t, 'udp_echo_server.py', ['127.0.0.1', 0]);
  const tsPort = await tsServer.port();
  const pyPort = await pyServer.port();
  const message = "it's \\ \x01 ñ";
  const runs = [
    await python(t, 'udp_echo_client.py', ['127.0.0.1', tsPort, message]).success(),
    await example(t, '03-udp-echo/client.ts', ['127.0.0.1', tsPort, message]).success(),
    await python(t, 'udp_echo_client.py', ['127.0.0.1', pyPort, message]).success(),
    await example(t, '03-udp-echo/client.ts', ['127.0.0.1', pyPort, message]).success(),
  ];
  const expected = `Received b"it's \\\\ \\x01 \\xc3\\xb1" from ('127.0.0.1', `;
  assert.deepEqual(runs, [[`${expected}${tsPort})`], [`${expected}${tsPort})`], [`${expected}${pyPort})`], [`${expected}${pyPort})`]]);
  // Both servers print the same line for the same datagram (bar the client's port).
  const tsSeen = await tsServer.linesMatching(/^Received (.*) from /, 2);
  const pySeen = await pyServer.linesMatching(/^Received (.*) from /, 2);
  assert.deepEqual(tsSeen.map((m) => m[1]), pySeen.map((m) => m[1]));
});

test('the client gives up with an error when no reply comes', async (t) => {
  // A Python receiver that reads the datagram but never answers.
  const silent = python(t, 'udp_receiver.py', ['127.0.0.1', 0]);
  const port = await silent.port();
  const client = example(t, '03-udp-echo/client.ts', ['--timeout', '0.5', '127.0.0.1', port]);
  assert.equal((await client.exit()).code, 1);
  assert.match(client.stderr, new RegExp(`^error: no reply from 127\\.0\\.0\\.1:${port} within 0\\.5 s$`, 'm'));
  await silent.line(/^received message: b'Hola, mundo'$/);
});

test('bad arguments: exit code 2 and the usage', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--timeout', 'soon'], /invalid timeout 'soon'/],
    [['127.0.0.1', 'x'], /invalid port 'x'/],
    [['--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const client = example(t, '03-udp-echo/client.ts', args);
    assert.equal((await client.exit()).code, 2, client.describe());
    assert.match(client.stderr, message);
    assert.match(client.stderr, /^usage: /m);
  }
});

// Example 2, UDP receiver and sender: one datagram, and a source port the OS picked (bind port 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, requireAll } from '../support/requires.ts';
import { example, python } from './support/proc.ts';

requireAll(command('python3'));

test('TS sender to TS receiver: one datagram, printed like the lab prints it', async (t) => {
  const receiver = example(t, '02-udp/receiver.ts', ['127.0.0.1', 0]);
  const port = await receiver.port();
  const sender = example(t, '02-udp/sender.ts', ['127.0.0.1', port]);
  const lines = await sender.success();
  assert.deepEqual(lines.slice(0, 3), ['UDP target IP: 127.0.0.1', `UDP target port: ${port}`, "message: b'Hola, mundo!'"]);
  assert.match(lines[3] ?? '', /^UDP source port: [1-9]\d*$/);
  await receiver.success();
  assert.deepEqual(receiver.lines.slice(1), ["received message: b'Hola, mundo!'"]);
});

test('TS sender to the lab Python receiver: same bytes, from the port the OS chose', async (t) => {
  const receiver = python(t, 'udp_receiver.py', ['127.0.0.1', 0]);
  const sender = example(t, '02-udp/sender.ts', ['127.0.0.1', await receiver.port()]);
  const sourcePort = Number((await sender.line(/^UDP source port: (\d+)$/))[1]);
  await sender.success();
  await receiver.success();
  assert.deepEqual(receiver.lines.slice(1), ["received message: b'Hola, mundo!'", `from ('127.0.0.1', ${sourcePort})`]);
});

test('the lab Python sender to the TS receiver: Python prints the same lines as the TS sender', async (t) => {
  const receiver = example(t, '02-udp/receiver.ts', ['127.0.0.1', 0]);
  const port = await receiver.port();
  const sender = python(t, 'udp_sender.py', ['127.0.0.1', port]);
  const lines = await sender.success();
  assert.deepEqual(lines.slice(0, 3), ['UDP target IP: 127.0.0.1', `UDP target port: ${port}`, "message: b'Hola, mundo!'"]);
  await receiver.success();
  assert.deepEqual(receiver.lines.slice(1), ["received message: b'Hola, mundo!'"]);
});

test('a datagram of every byte value: the TS receiver prints exactly what the Python receiver prints', async (t) => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)).toString('hex');
  const receivers = [example(t, '02-udp/receiver.ts', ['127.0.0.1', 0]), python(t, 'udp_receiver.py', ['127.0.0.1', 0])];
  const printed: string[] = [];
  for (const receiver of receivers) {
    await python(t, 'udp_sender.py', ['127.0.0.1', await receiver.port(), '--hex', all]).success();
    await receiver.success();
    printed.push(receiver.lines[1] ?? '');
  }
  assert.match(printed[0] ?? '', /^received message: b'\\xff\\xfe.*\\x01\\x00'$/);
  assert.equal(printed[0], printed[1]);
});

test('a non-numeric port is refused with a clear message', async (t) => {
  const sender = example(t, '02-udp/sender.ts', ['127.0.0.1', '5oo5']);
  assert.equal((await sender.exit()).code, 2);
  assert.match(sender.stderr, /invalid port '5oo5'/);
  const receiver = example(t, '02-udp/receiver.ts', ['127.0.0.1', '70000']);
  assert.equal((await receiver.exit()).code, 2);
  assert.match(receiver.stderr, /invalid port '70000': expected an integer from 0 to 65535/);
});

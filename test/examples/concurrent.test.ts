// Example 5, the concurrent server and the interactive client: sessions served side by side,
// piped and terminal input, "end" and "bye", and both programs against Python peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, requireAll } from '../support/requires.ts';
import { example, python } from './support/proc.ts';
import type { Program } from './support/proc.ts';

requireAll(command('python3'));

const SERVER = '05-concurrent/server.ts';
const CLIENT = '05-concurrent/client.ts';
const NEW = /^\[NEW CONNECTION\] \('127\.0\.0\.1', (\d+)\) connected$/;
const GONE = /^\[DISCONNECTED\] \('127\.0\.0\.1', (\d+)\)$/;

function startServer(t: Parameters<typeof example>[0]): Program {
  return example(t, SERVER, ['127.0.0.1', 0]);
}

/** The lines the server printed about one client, in order, without the client's address. */
function sessionOf(server: Program, clientPort: string): string[] {
  const tag = `('127.0.0.1', ${clientPort})`;
  return server.lines.filter((l) => l.includes(tag)).map((l) => l.replace(tag, 'CLIENT'));
}

/** A client's output for a session that sends `lines` and ends with "end". */
function expectedOutput(port: number, lines: string[]): string[] {
  return [`Connected to 127.0.0.1:${port}, type messages, 'end' to quit`, ...['Hola, servidor', ...lines].map((l) => `Received: echo: ${l}`)];
}

test('two clients at once: one finishes its whole session while the other stays connected', async (t) => {
  const server = startServer(t);
  const port = await server.port();
  const first = example(t, CLIENT, ['127.0.0.1', port], { stdin: true });
  await first.line(/^Received: echo: Hola, servidor$/);

  const second = example(t, CLIENT, ['127.0.0.1', port], { stdin: true });
  second.write('uno\nbye\n');
  second.endInput();
  assert.deepEqual(await second.success(), [
    `Connected to 127.0.0.1:${port}, type messages, 'end' to quit`,
    'Received: echo: Hola, servidor',
    'Received: echo: uno',
    'Received: bye',
    'Server closed the connection',
  ]);
  await server.line(/^\[ACTIVE CONNECTIONS\] 2$/);
  const [firstNew, secondNew] = await server.linesMatching(NEW, 2);
  const [secondGone] = await server.linesMatching(GONE, 1);
  assert.equal(secondGone?.[1], secondNew?.[1], 'the second client left first');

  // The first client was never held up, and is still being served.
  first.write('dos\n');
  await first.line(/^Received: echo: dos$/);
  first.write('end\n');
  assert.deepEqual(await first.success(), expectedOutput(port, ['dos']));
  await server.linesMatching(GONE, 2);
  assert.deepEqual(sessionOf(server, firstNew?.[1] ?? ''), [
    '[NEW CONNECTION] CLIENT connected',
    '[CLIENT] Hola, servidor',
    '[CLIENT] dos',
    '[DISCONNECTED] CLIENT',
  ]);
});

test('piped input: empty lines are skipped, "end" quits and nothing after it is sent', async (t) => {
  const server = startServer(t);
  const port = await server.port();
  const client = example(t, CLIENT, ['127.0.0.1', port], { stdin: true });
  client.write('uno\n\ndos, ¿qué tal?\r\nend\nnot sent\n');
  client.endInput();
  assert.deepEqual(await client.success(), expectedOutput(port, ['uno', 'dos, ¿qué tal?']));
  const [, clientPort] = await server.line(GONE);
  assert.deepEqual(sessionOf(server, clientPort ?? ''), [
    '[NEW CONNECTION] CLIENT connected',
    '[CLIENT] Hola, servidor',
    '[CLIENT] uno',
    '[CLIENT] dos, ¿qué tal?',
    '[DISCONNECTED] CLIENT',
  ]);
});

test('"bye" makes the server end the session; the end of input ends it too', async (t) => {
  const server = startServer(t);
  const port = await server.port();
  const bye = example(t, CLIENT, ['127.0.0.1', port], { stdin: true });
  bye.write('bye\nafter bye\n');
  bye.endInput();
  const out = await bye.success();
  assert.deepEqual(out.slice(1), ['Received: echo: Hola, servidor', 'Received: bye', 'Server closed the connection']);

  const eof = example(t, CLIENT, ['127.0.0.1', port], { stdin: true });
  eof.write('last line, no newline');
  eof.endInput();
  assert.deepEqual(await eof.success(), expectedOutput(port, ['last line, no newline']));
  await server.linesMatching(GONE, 2);
  assert.ok(!server.lines.some((l) => l.includes('after bye')), server.describe());
});

test('ten Python clients at once, some sending a byte at a time: each gets its own replies', async (t) => {
  const server = startServer(t);
  const port = await server.port();
  const clients = Array.from({ length: 10 }, (_, i) => {
    const args = ['127.0.0.1', port, ...(i % 2 ? ['--split'] : []), `cliente ${i}`, `ñandú ${i}`, i % 3 ? 'end' : 'bye'];
    return { i, program: python(t, 'concurrent_client.py', args) };
  });
  for (const { i, program } of clients) {
    const tail = i % 3 ? [] : ['Received: bye', 'Server closed the connection'];
    assert.deepEqual(await program.success(), [
      'Received: echo: Hola, servidor',
      `Received: echo: cliente ${i}`,
      `Received: echo: ñandú ${i}`,
      ...tail,
    ]);
  }
  const news = await server.linesMatching(NEW, 10);
  await server.linesMatching(GONE, 10);
  assert.equal(new Set(news.map((m) => m[1])).size, 10);
});

test('TS client against the Python server, Python client against the TS server: same output both ways', async (t) => {
  const tsServer = startServer(t);
  const pyServer = python(t, 'concurrent_server.py', ['127.0.0.1', 0]);
  const tsPort = await tsServer.port();
  const pyPort = await pyServer.port();
  const input = ['Hola', 'Adiós 👋', 'bye'];

  const tsClient = example(t, CLIENT, ['127.0.0.1', pyPort], { stdin: true });
  tsClient.write(input.join('\n') + '\n');
  tsClient.endInput();
  const tsOut = await tsClient.success();
  const pyOut = await python(t, 'concurrent_client.py', ['127.0.0.1', tsPort, ...input]).success();
  assert.deepEqual(tsOut.slice(1), pyOut);
  assert.deepEqual(pyOut, ['Received: echo: Hola, servidor', 'Received: echo: Hola', 'Received: echo: Adiós 👋', 'Received: bye', 'Server closed the connection']);

  // The two servers told the same story about their client.
  const [, tsClientPort] = await tsServer.line(GONE);
  const [, pyClientPort] = await pyServer.line(GONE);
  assert.deepEqual(sessionOf(tsServer, tsClientPort ?? ''), sessionOf(pyServer, pyClientPort ?? ''));
  assert.equal(sessionOf(tsServer, tsClientPort ?? '').length, 6);
});

test('a client that resets its connection, or sends an endless line, loses only its own session', async (t) => {
  const server = startServer(t);
  const port = await server.port();
  const reset = python(t, 'concurrent_client.py', ['127.0.0.1', port, '--reset']);
  assert.deepEqual(await reset.success(), ['Received: echo: Hola, servidor', 'reset sent']);
  await server.line(/^\[ERROR\] \('127\.0\.0\.1', \d+\) read ECONNRESET$/);
  await server.linesMatching(GONE, 1);

  const endless = python(t, 'concurrent_client.py', ['127.0.0.1', port, 'x'.repeat(70_000)]);
  await endless.exit();
  await server.line(/^\[ERROR\] \('127\.0\.0\.1', \d+\) line longer than 65536 characters$/);
  await server.linesMatching(GONE, 2);

  const after = python(t, 'concurrent_client.py', ['127.0.0.1', port, 'still here?', 'end']);
  assert.deepEqual(await after.success(), ['Received: echo: Hola, servidor', 'Received: echo: still here?']);
});

test('on a terminal: a prompt, typed lines echoed by readline, replies; "end" and Ctrl+C quit', async (t) => {
  const server = startServer(t);
  const port = await server.port();
  const clientArgs = ['--', process.execPath, '--import', 'tsx', `examples/${CLIENT}`, '127.0.0.1', String(port)];
  for (const typed of [['hola', 'end'], ['qué tal', '^C']]) {
    const driver = python(t, 'tty_drive.py', [...typed, ...clientArgs]);
    const [json] = await driver.success();
    const { output, exit } = JSON.parse(json ?? '{}') as { output: string; exit: number };
    // eslint-disable-next-line no-control-regex
    const screen = output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
    assert.equal(exit, 0, screen);
    assert.match(screen, /Received: echo: Hola, servidor\n> /, 'a prompt after the greeting');
    assert.match(screen, new RegExp(`> ${typed[0]}\\nReceived: echo: ${typed[0]}\\n> `), 'the typed line, then its reply');
  }
  await server.linesMatching(GONE, 2);
});

test('a bad port is refused before connecting', async (t) => {
  const client = example(t, CLIENT, ['127.0.0.1', '-1']);
  assert.equal((await client.exit()).code, 2);
  assert.match(client.stderr, /invalid port '-1'/);
});

// Interactive client for the concurrent server: sends a greeting, then each line typed (or piped
// in) and prints the server's reply. "end" (or end of input, or Ctrl+C) quits; "bye" asks the
// server to end the session. Prints "Received: echo: <line>" for each reply.
import { connect } from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseEndpoint, run } from '../lib/cli.ts';
import { LineReader } from '../lib/lines.ts';
import { BYE, GREETING, writeLine } from './protocol.ts';

const USAGE = 'npx tsx examples/05-concurrent/client.ts [host=127.0.0.1] [port=65434]';

run(USAGE, async (args) => {
  const { host, port } = parseEndpoint(args, { host: '127.0.0.1', port: 65434 }, 'client');
  const socket = connect({ host, port });
  await once(socket, 'connect');
  console.log(`Connected to ${host}:${port}, type messages, 'end' to quit`);
  const replies = new LineReader(socket);

  // On a terminal readline edits the line and shows a prompt; from a pipe it just splits lines.
  const tty = process.stdin.isTTY === true;
  const keyboard = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: '> ' });
  keyboard.on('SIGINT', () => {
    // Ctrl+C quits like 'end', even while waiting for a reply: our FIN makes the server hang up.
    keyboard.close();
    socket.end();
  });
  // Ask for the lines now: piped input is read at once, and lines emitted before anyone iterates
  // would be lost. The iterator queues them until the loop below gets to them.
  const typedLines = keyboard[Symbol.asyncIterator]();
  let serverClosed = false;
  socket.once('end', () => {
    serverClosed = true;
    keyboard.close(); // stop waiting for the keyboard: there is nobody left to talk to
  });

  /** Sends one line and prints the reply; false once the server has hung up. */
  const exchange = async (text: string): Promise<boolean> => {
    await writeLine(socket, text);
    const reply = await replies.next();
    if (reply === null) return false;
    console.log(`Received: ${reply}`);
    if (text !== BYE) return true;
    // After "bye" the server hangs up: wait for that rather than race it with the next line.
    if ((await replies.next()) === null) serverClosed = true;
    return !serverClosed;
  };

  try {
    if (await exchange(GREETING)) {
      if (tty) keyboard.prompt();
      for (let next = await typedLines.next(); !next.done; next = await typedLines.next()) {
        const text = next.value.replace(/\r$/, '');
        if (text === 'end' || serverClosed) break;
        if (text !== '' && !(await exchange(text))) break;
        if (tty) keyboard.prompt();
      }
    }
  } finally {
    keyboard.close();
    socket.end(); // our FIN: the server sees end-of-file and closes the session
  }
  if (serverClosed) console.log('Server closed the connection');
  if (!socket.closed) await once(socket, 'close');
});

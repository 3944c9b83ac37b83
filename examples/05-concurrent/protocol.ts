// The concurrent example's little protocol, shared by its server and client (and mirrored by the
// Python peers in test/examples/fixtures): every message is one UTF-8 line ending in "\n"; the
// server answers each line with "echo: <line>", and answers "bye" with "bye" and hangs up.
import type { Socket } from 'node:net';

export const GREETING = 'Hola, servidor';
export const BYE = 'bye';

export function replyTo(line: string): string {
  return line === BYE ? BYE : `echo: ${line}`;
}

/** Writes one line and resolves once the kernel has taken it: one line in flight at a time. */
export function writeLine(socket: Socket, line: string): Promise<void> {
  return new Promise((resolve, reject) => socket.write(`${line}\n`, (err) => (err ? reject(err) : resolve())));
}

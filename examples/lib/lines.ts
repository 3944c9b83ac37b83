// TCP carries a stream of bytes, not messages: one send() may arrive in two recv()s and two sends
// in one. The concurrent example frames each message as one UTF-8 line ending in "\n"; this reader
// rebuilds those lines from whatever chunks arrive and hands them out one `await` at a time.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/** Lines longer than this are refused, so a peer cannot make us buffer without limit. */
export const MAX_LINE = 64 * 1024;

type Waiter = { resolve: (line: string | null) => void; reject: (err: Error) => void };

export class LineReader {
  readonly #stream: Readable;
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';
  readonly #lines: string[] = [];
  readonly #waiters: Waiter[] = [];
  #ended = false;
  #error: Error | null = null;

  constructor(stream: Readable) {
    this.#stream = stream;
    // Reading in flowing mode means an EOF from the peer is noticed at once, even while nobody is
    // waiting for a line (the interactive client may be waiting on the keyboard instead).
    stream.on('data', (chunk: Buffer | string) => this.#take(typeof chunk === 'string' ? chunk : this.#decoder.write(chunk)));
    stream.on('end', () => this.#end());
    stream.on('close', () => this.#end());
    stream.on('error', (err) => this.#fail(err));
  }

  /** The next line without its "\n", or null once the peer has closed and every line was read. */
  next(): Promise<string | null> {
    const line = this.#lines.shift();
    if (line !== undefined) {
      if (this.#lines.length < 16) this.#stream.resume();
      return Promise.resolve(line);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    for (let line = await this.next(); line !== null; line = await this.next()) yield line;
  }

  #take(text: string): void {
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    if (this.#partial.length > MAX_LINE || parts.some((line) => line.length > MAX_LINE)) {
      this.#stream.destroy(new Error(`line longer than ${MAX_LINE} characters`));
      return;
    }
    for (const line of parts) this.#deliver(line);
    // Backpressure: stop reading while too many lines wait for a consumer.
    if (this.#lines.length >= 16) this.#stream.pause();
  }

  #deliver(line: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(line);
    else this.#lines.push(line);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest !== '') this.#deliver(rest); // a last line without "\n" still counts
    for (const waiter of this.#waiters.splice(0)) {
      if (this.#error) waiter.reject(this.#error);
      else waiter.resolve(null);
    }
  }

  #fail(err: Error): void {
    this.#error = err;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
  }
}

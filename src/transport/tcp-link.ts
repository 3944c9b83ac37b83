// Wraps one net.Socket as a Link: length-prefixed framing out, a StreamDecoder in. Every socket
// listener is added and removed here, in one place.
import type { Socket } from 'node:net';
import { Limits, StreamDecoder, type Frame } from '../protocol/index.ts';
import { formatAddress, type Connection, type LinkHandler } from './types.ts';

export interface TcpLinkOptions {
  /** Bytes queued for a peer that does not read, before the connection is dropped. */
  readonly maxQueuedBytes: number;
  /** Close a connection silent for this long (0 = never); `onIdle` runs first. */
  readonly idleTimeoutMs: number;
  /** Runs when the idle timeout fires, before the link closes (e.g. to send an ERROR). */
  readonly onIdle?: (link: TcpLink) => void;
}

const PREFIX_ROOM = Limits.MAX_VARINT_BYTES;
/** The frames one turn produces are gathered here first; grown as needed, never shrunk. */
const FIRST_OUT_SIZE = 1024;
const MAX_KEPT_OUT_SIZE = 64 * 1024;

export class TcpLink implements Connection {
  readonly kind = 'tcp' as const;
  readonly remote: string;
  readonly closed: Promise<Error | undefined>;
  private readonly socket: Socket;
  private readonly decoder = new StreamDecoder();
  private readonly handler: LinkHandler;
  private readonly options: TcpLinkOptions;
  private closeError: Error | undefined;
  private ending = false;
  /** Frames sent this turn, not yet written to the socket (out[0 … outLength)). */
  private out: Buffer | undefined;
  private outLength = 0;
  private readonly flush = (): void => this.write();

  constructor(socket: Socket, handler: LinkHandler, options: TcpLinkOptions) {
    this.socket = socket;
    this.handler = handler;
    this.options = options;
    this.remote = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    socket.setNoDelay(true);
    if (options.idleTimeoutMs > 0) socket.setTimeout(options.idleTimeoutMs);
    let settle: (error: Error | undefined) => void = () => {};
    this.closed = new Promise((resolve) => (settle = resolve));

    const onData = (chunk: Buffer): void => this.receive(chunk);
    const onTimeout = (): void => {
      if (this.ending) {
        // We closed our side an idle period ago and the peer has not closed its own: a peer that
        // never finishes must not keep the connection (and its slot under maxConnections).
        this.destroy();
        return;
      }
      options.onIdle?.(this);
      this.close();
    };
    const onError = (error: Error): void => {
      this.closeError ??= error;
    };
    const onClose = (): void => {
      socket.off('data', onData);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      socket.off('close', onClose);
      this.handler.close?.(this, this.closeError);
      settle(this.closeError);
    };
    socket.on('data', onData);
    socket.on('timeout', onTimeout);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  get open(): boolean {
    return !this.ending && !this.socket.destroyed && this.socket.writable;
  }

  /** Bytes written but not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Frames the message; the bytes are copied, so the caller may reuse `message` at once. */
  send(message: Uint8Array): boolean {
    if (!this.open) return false;
    if (this.socket.writableLength + this.outLength + message.length > this.options.maxQueuedBytes) {
      // A peer that does not read its replies must not grow our memory without bound.
      this.destroy(new Error(`peer ${this.remote} is not reading: over ${this.options.maxQueuedBytes} bytes queued`));
      return false;
    }
    // Messages sent in one turn of the event loop (e.g. the ACKs of one group commit) are gathered
    // and leave in one write: one pass through the stream, one system call and, where the window
    // allows, one segment.
    if (this.outLength === 0) process.nextTick(this.flush);
    let out = this.out;
    const need = this.outLength + PREFIX_ROOM + message.length;
    if (out === undefined || need > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(FIRST_OUT_SIZE, 2 * need));
      if (out !== undefined) out.copy(bigger, 0, 0, this.outLength);
      this.out = out = bigger;
    }
    let at = this.outLength;
    let n = message.length;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(message, at);
    this.outLength = at + message.length;
    return true;
  }

  /** Writes what this turn gathered, as a copy: the socket may hold it until the kernel takes it. */
  private write(): void {
    const length = this.outLength;
    if (length === 0 || this.out === undefined) return;
    this.outLength = 0;
    if (this.socket.destroyed) return;
    const bytes = Buffer.allocUnsafe(length);
    this.out.copy(bytes, 0, 0, length);
    // A burst's big buffer is not kept for the quiet turns after it.
    if (this.out.length > MAX_KEPT_OUT_SIZE) this.out = undefined;
    this.socket.write(bytes);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    if (this.ending) return;
    this.ending = true;
    // What was sent before the close goes first (end() would otherwise overtake it).
    this.write();
    this.socket.end();
  }

  destroy(error?: Error): void {
    this.ending = true;
    this.closeError ??= error;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.decoder.error) return; // the stream is unusable; the handler is closing us
    let frames: Frame[];
    try {
      frames = this.decoder.write(chunk);
    } catch (error) {
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    for (const frame of frames) this.handler.frame(this, frame);
  }
}

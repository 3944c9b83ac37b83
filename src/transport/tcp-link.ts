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
  private corked = false;

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

  send(message: Uint8Array): boolean {
    if (!this.open) return false;
    if (this.socket.writableLength + message.length > this.options.maxQueuedBytes) {
      // A peer that does not read its replies must not grow our memory without bound.
      this.destroy(new Error(`peer ${this.remote} is not reading: over ${this.options.maxQueuedBytes} bytes queued`));
      return false;
    }
    const frame = Buffer.allocUnsafe(message.length + PREFIX_ROOM);
    let n = message.length;
    let at = 0;
    while (n >= 0x80) {
      frame[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    frame[at++] = n;
    frame.set(message, at);
    // Messages sent in one turn of the event loop (e.g. the ACKs of one group commit) leave
    // together in one write: one system call and, where the window allows, one segment.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame.subarray(0, at + message.length));
    return true;
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

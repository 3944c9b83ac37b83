// An in-process transport for tests of server and device logic: link pairs that behave like a
// TCP connection (ordered, whole messages, asynchronous delivery), with no sockets.
import { ProtocolError, decode, type Frame } from '../protocol/index.ts';
import { TransportError } from './errors.ts';
import type { ConnectOptions, Connection, LinkHandler, ListenOptions, Listener, Transport } from './types.ts';

function toFrame(bytes: Uint8Array): Frame {
  try {
    return { ok: true, message: decode(bytes), bytes };
  } catch (error) {
    if (error instanceof ProtocolError) return { ok: false, error, bytes };
    throw error;
  }
}

class MemoryLink implements Connection {
  readonly kind = 'memory' as const;
  readonly remote: string;
  readonly closed: Promise<Error | undefined>;
  peer: MemoryLink | undefined;
  handler: LinkHandler;
  private settle: (error: Error | undefined) => void = () => {};
  private isOpen = true;
  private paused = false;
  private inbox: Uint8Array[] = [];

  constructor(remote: string, handler: LinkHandler) {
    this.remote = remote;
    this.handler = handler;
    this.closed = new Promise((resolve) => (this.settle = resolve));
  }

  get open(): boolean {
    return this.isOpen;
  }

  send(message: Uint8Array): boolean {
    const peer = this.peer;
    if (!this.isOpen || !peer) return false;
    const copy = message.slice();
    setImmediate(() => peer.deliver(copy));
    return true;
  }

  deliver(bytes: Uint8Array): void {
    if (!this.isOpen) return;
    if (this.paused) this.inbox.push(bytes);
    else this.handler.frame(this, toFrame(bytes));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.inbox;
    this.inbox = [];
    for (const bytes of held) this.deliver(bytes);
  }

  close(): void {
    if (!this.isOpen) return;
    // Like a FIN: what was sent before still arrives, then both ends close.
    setImmediate(() => {
      this.shut();
      this.peer?.shut();
    });
  }

  shut(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.handler.close?.(this);
    this.settle(undefined);
  }
}

/** A transport whose listeners and connections live in this process only. */
export function createMemoryTransport(): Transport {
  const listeners = new Map<number, { handler: LinkHandler; links: Set<MemoryLink> }>();
  let nextPort = 1;
  let nextClient = 40000;
  return {
    kind: 'memory',
    async listen(options: ListenOptions, handler: LinkHandler): Promise<Listener> {
      const port = options.port === 0 ? nextPort++ : options.port;
      if (listeners.has(port)) throw new TransportError('BIND_FAILED', `memory port ${port} is in use`);
      const entry = { handler, links: new Set<MemoryLink>() };
      listeners.set(port, entry);
      return {
        kind: 'memory',
        host: 'memory',
        port,
        get connections() {
          return entry.links.size;
        },
        async close(): Promise<void> {
          listeners.delete(port);
          for (const link of entry.links) link.close();
          await Promise.all([...entry.links].map((l) => l.closed));
        },
      };
    },
    async connect(options: ConnectOptions, handler: LinkHandler): Promise<Connection> {
      const entry = listeners.get(options.port);
      if (!entry) throw new TransportError('CONNECT_FAILED', `nothing listens on memory port ${options.port}`);
      const client = new MemoryLink(`memory:${options.port}`, handler);
      const server = new MemoryLink(`memory-client:${nextClient++}`, {
        frame: (l, f) => entry.handler.frame(l, f),
        close: (l, e) => {
          entry.links.delete(server);
          entry.handler.close?.(l, e);
        },
      });
      client.peer = server;
      server.peer = client;
      entry.links.add(server);
      entry.handler.open?.(server);
      handler.open?.(client);
      options.signal?.addEventListener('abort', () => client.close(), { once: true });
      return client;
    },
  };
}

// TCP: a listener that accepts connections, caps their number and times out idle ones, and a
// dialer. Framing is in tcp-link.ts.
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { ErrorCode, encode } from '../protocol/index.ts';
import { TransportError } from './errors.ts';
import { TcpLink } from './tcp-link.ts';
import type { ConnectOptions, Connection, LinkHandler, ListenOptions, Listener, Transport } from './types.ts';

const DEFAULT_IDLE_MS = 60_000;
const DEFAULT_MAX_QUEUED = 1 << 20;

function refusal(code: number, text: string): Uint8Array {
  return encode({ type: 'ERROR', deviceId: 0, seq: 0, code, refSeq: 0, text });
}

export async function listenTcp(options: ListenOptions, handler: LinkHandler): Promise<Listener> {
  const links = new Set<TcpLink>();
  const maxConnections = options.maxConnections ?? Infinity;
  const linkOptions = {
    maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_MS,
    onIdle: (link: TcpLink) => link.send(refusal(ErrorCode.IDLE_TIMEOUT, 'no message within the idle timeout')),
  };
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    if (links.size >= maxConnections) {
      const busy = new TcpLink(socket, { frame: () => {} }, linkOptions);
      busy.send(refusal(ErrorCode.BUSY, `the server is at its limit of ${maxConnections} connections`));
      busy.close();
      return;
    }
    const link = new TcpLink(socket, {
      frame: (l, f) => handler.frame(l, f),
      close: (l, error) => {
        links.delete(link);
        handler.close?.(l, error);
      },
    }, linkOptions);
    links.add(link);
    handler.open?.(link);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(new TransportError('BIND_FAILED', `cannot listen on TCP ${options.host ?? '127.0.0.1'}:${options.port}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new TransportError('BIND_FAILED', 'TCP listener has no address');
  let closing: Promise<void> | undefined;
  return {
    kind: 'tcp',
    host: address.address,
    port: address.port,
    get connections() {
      return links.size;
    },
    close(graceMs = 2000): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const link of links) link.close();
        const timer = setTimeout(() => {
          for (const link of links) link.destroy();
        }, graceMs);
        await Promise.all([...links].map((l) => l.closed));
        clearTimeout(timer);
        await stopped;
      })();
      return closing;
    },
  };
}

export function connectTcp(options: ConnectOptions, handler: LinkHandler): Promise<Connection> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new TransportError('ABORTED', 'connect aborted'));
      return;
    }
    const socket = netConnect({ host: options.host, port: options.port, noDelay: true });
    const timer = setTimeout(() => fail(new TransportError('CONNECT_TIMEOUT', `no TCP connection to ${options.host}:${options.port} within ${options.timeoutMs ?? 5000} ms`)), options.timeoutMs ?? 5000);
    const onAbort = (): void => fail(new TransportError('ABORTED', 'connect aborted'));
    const onError = (error: Error): void =>
      fail(new TransportError('CONNECT_FAILED', `cannot connect to TCP ${options.host}:${options.port}: ${error.message}`, { cause: error }));
    function cleanup(): void {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      options.signal?.removeEventListener('abort', onAbort);
    }
    function fail(error: TransportError): void {
      cleanup();
      socket.destroy();
      reject(error);
    }
    function onConnect(): void {
      cleanup();
      const link = new TcpLink(socket, handler, { maxQueuedBytes: DEFAULT_MAX_QUEUED, idleTimeoutMs: 0 });
      const signal = options.signal;
      if (signal) {
        const close = (): void => link.close();
        signal.addEventListener('abort', close, { once: true });
        void link.closed.then(() => signal.removeEventListener('abort', close));
      }
      handler.open?.(link);
      resolve(link);
    }
    socket.once('error', onError);
    socket.once('connect', onConnect);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const tcp: Transport = { kind: 'tcp', listen: listenTcp, connect: connectTcp };

// UDP: one datagram is one message. The listener decodes each datagram on its own and hands
// the handler a link that answers to the datagram's source; the dialer uses a connected socket.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { Limits, ProtocolError, decode, type Frame } from '../protocol/index.ts';
import { TransportError } from './errors.ts';
import { formatAddress, type ConnectOptions, type Connection, type Link, type LinkHandler, type ListenOptions, type Listener, type Transport } from './types.ts';

const RECEIVE_BUFFER = 4 << 20;
const decodeOptions = { maxMessageSize: Limits.MAX_UDP_MESSAGE };

/** Decodes one datagram: a message, or why it is not one. */
export function datagramFrame(datagram: Uint8Array): Frame {
  const bytes = new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  try {
    return { ok: true, message: decode(bytes, decodeOptions), bytes };
  } catch (error) {
    if (error instanceof ProtocolError) return { ok: false, error, bytes };
    throw error;
  }
}

/**
 * Whether a host is an IPv6 address: only those contain a colon (names and IPv4 addresses do
 * not). Not net.isIPv6: its first call compiles a large regular expression, about 8 ms of a
 * device's start-up on this machine, before the first sample.
 */
const isIpv6Host = (host: string): boolean => host.includes(':');

function bind(socket: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void =>
      reject(new TransportError('BIND_FAILED', `cannot bind UDP ${formatAddress(host, port)}: ${error.message}`, { cause: error }));
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Answers to the source of one datagram. One is made per datagram, so it does little up front. */
class DatagramLink implements Link {
  readonly kind = 'udp' as const;
  private readonly socket: Socket;
  private readonly peer: RemoteInfo;
  private readonly isOpen: () => boolean;
  private address: string | undefined;

  constructor(socket: Socket, peer: RemoteInfo, isOpen: () => boolean) {
    this.socket = socket;
    this.peer = peer;
    this.isOpen = isOpen;
  }
  get remote(): string {
    return (this.address ??= formatAddress(this.peer.address, this.peer.port));
  }
  get open(): boolean {
    return this.isOpen();
  }
  /** The bytes are copied, so the caller may reuse `message` at once. */
  send(message: Uint8Array): boolean {
    if (!this.isOpen()) return false;
    // dgram reads the buffer after send() returns (after its address lookup, or once the socket
    // can take it): it gets bytes of its own.
    const copy = Buffer.allocUnsafe(message.length);
    copy.set(message);
    this.socket.send(copy, this.peer.port, this.peer.address);
    return true;
  }
  pause(): void {}
  resume(): void {}
  close(): void {}
}

export async function listenUdp(options: ListenOptions, handler: LinkHandler): Promise<Listener> {
  const host = options.host ?? '127.0.0.1';
  const socket = createSocket({ type: isIpv6Host(host) ? 'udp6' : 'udp4' });
  let open = true;
  const isOpen = (): boolean => open;
  socket.on('message', (datagram, peer) => handler.frame(new DatagramLink(socket, peer, isOpen), datagramFrame(datagram)));
  // Errors on a listening UDP socket (e.g. ICMP errors reported by the kernel) concern one
  // peer's datagram, not the listener: it keeps serving.
  socket.on('error', () => {});
  await bind(socket, options.port, host);
  try {
    socket.setRecvBufferSize(RECEIVE_BUFFER);
  } catch {
    // The kernel may cap the size; the default still works.
  }
  const address = socket.address();
  let closing: Promise<void> | undefined;
  return {
    kind: 'udp',
    host: address.address,
    port: address.port,
    connections: 0,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        open = false;
        socket.close(() => resolve());
      });
      return closing;
    },
  };
}

export async function connectUdp(options: ConnectOptions, handler: LinkHandler): Promise<Connection> {
  if (options.signal?.aborted) throw new TransportError('ABORTED', 'connect aborted');
  const ipv6 = isIpv6Host(options.host);
  const socket = createSocket({ type: ipv6 ? 'udp6' : 'udp4' });
  await bind(socket, 0, ipv6 ? '::' : '0.0.0.0');
  await new Promise<void>((resolve, reject) => {
    socket.connect(options.port, options.host, (error?: Error) => {
      if (!error) return resolve();
      socket.close();
      reject(new TransportError('CONNECT_FAILED', `cannot set UDP peer ${options.host}:${options.port}: ${error.message}`, { cause: error }));
    });
  });
  let open = true;
  let settle: (error: Error | undefined) => void = () => {};
  const closed = new Promise<Error | undefined>((resolve) => (settle = resolve));
  const link: Connection = {
    kind: 'udp',
    remote: formatAddress(options.host, options.port),
    closed,
    get open() {
      return open;
    },
    send(message: Uint8Array): boolean {
      if (!open) return false;
      socket.send(Buffer.from(message));
      return true;
    },
    pause: () => {},
    resume: () => {},
    close(): void {
      if (!open) return;
      open = false;
      socket.close();
    },
  };
  socket.on('message', (datagram) => handler.frame(link, datagramFrame(datagram)));
  // ECONNREFUSED and the like (ICMP port unreachable) say a datagram was not delivered; UDP
  // carries on, and the device counts what was not acknowledged.
  socket.on('error', () => {});
  socket.on('close', () => {
    open = false;
    handler.close?.(link);
    settle(undefined);
  });
  options.signal?.addEventListener('abort', () => link.close(), { once: true });
  handler.open?.(link);
  return link;
}

export const udp: Transport = { kind: 'udp', listen: listenUdp, connect: connectUdp };

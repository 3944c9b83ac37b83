// Real TCP and UDP traffic between node sockets on the loopback interface, for the capture
// tests. Servers are opened first (so their ports can go into the capture filter), then
// exchanges run to completion: every exchange resolves only after all its sockets have closed,
// so by then every packet it caused has been handed to the capture.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Rejects after `ms` milliseconds unless `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const WAIT_MS = 10_000;

/** What travelled in each direction of one exchange, for checking reassembly. */
export interface Exchange {
  readonly protocol: 'tcp' | 'udp';
  readonly host: string;
  readonly serverPort: number;
  clientPort: number;
  /** TCP: bytes the client sent, in order. UDP: one entry per datagram. */
  readonly clientToServer: Uint8Array[];
  readonly serverToClient: Uint8Array[];
}

type TcpBehaviour = 'echo' | 'sink' | 'reset';

/** A TCP server whose connections echo, swallow (then answer "ok"), or reset. */
export class TcpPeer {
  readonly server: Server;
  readonly host: string;
  private readonly closed: Promise<unknown>[] = [];

  private constructor(server: Server, host: string) {
    this.server = server;
    this.host = host;
  }

  static async open(host: string, behaviour: TcpBehaviour): Promise<TcpPeer> {
    const server = createServer();
    const peer = new TcpPeer(server, host);
    server.on('connection', (socket: Socket) => {
      peer.closed.push(new Promise<void>((resolve) => socket.once('close', () => resolve())));
      socket.on('error', () => {});
      if (behaviour === 'echo') {
        socket.on('data', (d) => socket.write(d));
        socket.on('end', () => socket.end());
      } else if (behaviour === 'sink') {
        socket.on('data', () => {});
        socket.on('end', () => socket.end('ok'));
      } else {
        socket.once('data', () => socket.resetAndDestroy());
      }
    });
    server.listen(0, host);
    await within(once(server, 'listening'), WAIT_MS, `TCP server on ${host}`);
    return peer;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('server has no port');
    return address.port;
  }

  /** Waits for every accepted connection to close. */
  async settled(): Promise<void> {
    await within(Promise.all(this.closed), WAIT_MS, 'server-side sockets to close');
  }

  async close(): Promise<void> {
    this.server.close();
  }
}

async function connectTo(peer: TcpPeer): Promise<Socket> {
  const socket = connect(peer.port, peer.host);
  await within(once(socket, 'connect'), WAIT_MS, `connect to ${peer.host}:${peer.port}`);
  return socket;
}

/** Sends each message and waits for its echo before the next, then closes from the client side. */
export async function tcpEcho(peer: TcpPeer, messages: Uint8Array[]): Promise<Exchange> {
  const socket = await connectTo(peer);
  const exchange: Exchange = {
    protocol: 'tcp',
    host: peer.host,
    serverPort: peer.port,
    clientPort: socket.localPort ?? 0,
    clientToServer: [],
    serverToClient: [],
  };
  const received: Buffer[] = [];
  let receivedBytes = 0;
  let wake: () => void = () => {};
  socket.on('data', (d: Buffer) => {
    received.push(d);
    receivedBytes += d.length;
    wake();
  });
  let expected = 0;
  for (const m of messages) {
    expected += m.length;
    const arrived = new Promise<void>((resolve) => {
      wake = () => {
        if (receivedBytes >= expected) resolve();
      };
    });
    socket.write(m);
    exchange.clientToServer.push(m);
    await within(arrived, WAIT_MS, `echo of ${m.length} bytes`);
  }
  exchange.serverToClient.push(Buffer.concat(received));
  const closed = once(socket, 'close');
  socket.end();
  await within(closed, WAIT_MS, 'client socket to close');
  await peer.settled();
  return exchange;
}

/** Sends `data` in one write and closes; the server answers "ok" and closes. */
export async function tcpBulk(peer: TcpPeer, data: Uint8Array): Promise<Exchange> {
  const socket = await connectTo(peer);
  const clientPort = socket.localPort ?? 0;
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const closed = once(socket, 'close');
  socket.end(data);
  await within(closed, WAIT_MS, 'bulk client to close');
  await peer.settled();
  return {
    protocol: 'tcp',
    host: peer.host,
    serverPort: peer.port,
    clientPort,
    clientToServer: [data],
    serverToClient: [Buffer.concat(chunks)],
  };
}

/** Sends a few bytes to a server that answers with RST. */
export async function tcpReset(peer: TcpPeer, data: Uint8Array): Promise<Exchange> {
  const socket = await connectTo(peer);
  const clientPort = socket.localPort ?? 0;
  socket.on('error', () => {});
  // events.once would reject on the ECONNRESET error; only the close matters here.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(data);
  await within(closed, WAIT_MS, 'reset client to close');
  await peer.settled();
  return {
    protocol: 'tcp',
    host: peer.host,
    serverPort: peer.port,
    clientPort,
    clientToServer: [data],
    serverToClient: [],
  };
}

/** A UDP socket that sends every datagram back to where it came from. */
export class UdpEcho {
  readonly socket: UdpSocket;
  readonly host: string;

  private constructor(socket: UdpSocket, host: string) {
    this.socket = socket;
    this.host = host;
  }

  static async open(host: string): Promise<UdpEcho> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
    socket.bind(0, host);
    await within(once(socket, 'listening'), WAIT_MS, `UDP socket on ${host}`);
    return new UdpEcho(socket, host);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): void {
    this.socket.close();
  }
}

/** Sends each datagram and waits for its echo before the next. */
export async function udpEcho(peer: UdpEcho, datagrams: Uint8Array[]): Promise<Exchange> {
  const socket = createSocket(peer.host.includes(':') ? 'udp6' : 'udp4');
  socket.bind(0, peer.host);
  await within(once(socket, 'listening'), WAIT_MS, 'UDP client to bind');
  const exchange: Exchange = {
    protocol: 'udp',
    host: peer.host,
    serverPort: peer.port,
    clientPort: socket.address().port,
    clientToServer: [],
    serverToClient: [],
  };
  try {
    for (const d of datagrams) {
      const echoed = once(socket, 'message');
      socket.send(d, peer.port, peer.host);
      exchange.clientToServer.push(d);
      const [msg]: unknown[] = await within(echoed, WAIT_MS, `UDP echo of ${d.length} bytes`);
      if (!Buffer.isBuffer(msg)) throw new Error('UDP message is not a Buffer');
      exchange.serverToClient.push(Uint8Array.from(msg));
    }
  } finally {
    socket.close();
  }
  return exchange;
}

/** Deterministic-length random payload. */
export function payload(length: number): Uint8Array {
  return Uint8Array.from(randomBytes(length));
}

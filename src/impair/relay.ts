// A UDP relay that stands between devices and a server and impairs what passes, both ways.
// Each client address gets its own upstream socket, so the server sees one peer per device and
// its replies find their way back. Client → server datagrams are "up", server → client "down";
// each direction has its own settings and its own decisions (see decisions.ts). The client table
// is bounded (least recently active client is evicted) and idle clients expire; the datagrams
// waiting in the relay are bounded too. close() stops every timer and closes every socket.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { formatAddress } from '../transport/types.ts';
import { decide, NO_IMPAIRMENT, validateImpairment, type Direction, type Impairment } from './decisions.ts';
import { Lane } from './lane.ts';
import { copyStats, emptyRelayStats, type RelayStats } from './stats.ts';

export interface RelayOptions {
  /** Address to listen on for clients. Default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on; 0 (the default) takes any free port. */
  readonly port?: number;
  /** Where datagrams from clients go. */
  readonly forwardHost: string;
  readonly forwardPort: number;
  /** Seeds every decision. Default 0. */
  readonly seed?: number;
  /** Settings for both directions; `up` and `down` override them per direction. */
  readonly impairment?: Partial<Impairment>;
  /** Client → server settings. */
  readonly up?: Partial<Impairment>;
  /** Server → client settings. */
  readonly down?: Partial<Impairment>;
  /** How long a datagram chosen for reordering waits at most for a later one. Default 50 ms. */
  readonly reorderHoldMs?: number;
  /** Datagrams delayed or held at once across the relay; more are dropped as overflow. Default 1024. */
  readonly maxQueued?: number;
  /** Clients at once; a new one beyond this evicts the least recently active. Default 1024. */
  readonly maxClients?: number;
  /** Forget a client silent (both ways) for this long; 0 = never. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

export interface Relay {
  /** The address and port clients send to. */
  readonly host: string;
  readonly port: number;
  /** The resolved server address. */
  readonly forward: { readonly host: string; readonly port: number };
  readonly seed: number;
  /** The settings per direction, defaults filled in. */
  readonly settings: Readonly<Record<Direction, Impairment>>;
  /** A snapshot of the counters. */
  readonly stats: RelayStats;
  /** Stops relaying: clears every timer, discards what is queued, closes every socket. Idempotent. */
  close(): Promise<void>;
}

interface Flow {
  readonly key: string;
  /** Clients are numbered in the order they first appear; decisions are keyed by it. */
  readonly ordinal: number;
  readonly client: RemoteInfo;
  readonly upstream: Socket;
  readonly up: Lane;
  readonly down: Lane;
  lastActive: number;
}

const RECEIVE_BUFFER = 4 << 20;

function settingsFor(options: RelayOptions, direction: Direction): Impairment {
  const settings = { ...NO_IMPAIRMENT, ...options.impairment, ...options[direction] };
  validateImpairment(settings, direction);
  return settings;
}

function positive(name: string, value: number, min: number): number {
  if (!(Number.isFinite(value) && value >= min)) throw new RangeError(`${name} must be ${min} or more, not ${value}`);
  return value;
}

async function resolve(host: string, what: string): Promise<LookupAddress> {
  try {
    return await lookup(host);
  } catch (error) {
    throw new Error(`cannot resolve ${what} "${host}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function enlargeReceiveBuffer(socket: Socket): void {
  try {
    socket.setRecvBufferSize(RECEIVE_BUFFER);
  } catch {
    // The kernel caps it; the default works, with less room for bursts.
  }
}

/** Starts a relay; resolves once it listens. */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const settings = { up: settingsFor(options, 'up'), down: settingsFor(options, 'down') };
  const seed = (options.seed ?? 0) >>> 0;
  const holdMs = positive('reorderHoldMs', options.reorderHoldMs ?? 50, 0);
  const maxQueued = positive('maxQueued', options.maxQueued ?? 1024, 1);
  const maxClients = positive('maxClients', options.maxClients ?? 1024, 1);
  const idleTimeoutMs = positive('idleTimeoutMs', options.idleTimeoutMs ?? 60_000, 0);
  if (!(Number.isInteger(options.forwardPort) && options.forwardPort >= 1 && options.forwardPort <= 65535)) {
    throw new RangeError(`forwardPort must be a port from 1 to 65535, not ${options.forwardPort}`);
  }
  const forward = await resolve(options.forwardHost, 'the forward host');
  const listenAt = await resolve(options.host ?? '127.0.0.1', 'the listen host');
  const stats = emptyRelayStats();
  const flows = new Map<string, Flow>();
  const now = (): number => performance.now();
  const room = (): boolean => stats.up.queued + stats.down.queued < maxQueued;
  let nextOrdinal = 0;
  let closed = false;

  const listener = createSocket({ type: listenAt.family === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      listener.close();
      reject(new Error(`cannot listen on udp ${formatAddress(listenAt.address, options.port ?? 0)}: ${error.message}`, { cause: error }));
    };
    listener.once('error', onError);
    listener.bind(options.port ?? 0, listenAt.address, () => {
      listener.off('error', onError);
      resolve();
    });
  });
  enlargeReceiveBuffer(listener);
  listener.on('error', () => stats.errors++);
  const onSent = (error: Error | null): void => {
    if (error) stats.errors++;
  };

  const forget = (flow: Flow): Promise<void> => {
    flows.delete(flow.key);
    flow.up.clear();
    flow.down.clear();
    stats.clients.active = flows.size;
    return new Promise((resolve) => flow.upstream.close(() => resolve()));
  };

  const openFlow = (client: RemoteInfo): Flow => {
    if (flows.size >= maxClients) {
      let oldest: Flow | undefined;
      for (const f of flows.values()) if (!oldest || f.lastActive < oldest.lastActive) oldest = f;
      if (oldest) {
        void forget(oldest);
        stats.clients.evicted++;
      }
    }
    const upstream = createSocket({ type: forward.family === 6 ? 'udp6' : 'udp4' });
    upstream.on('error', () => stats.errors++);
    // Sends before the bind completes wait for it inside node.
    upstream.bind(0, forward.family === 6 ? '::' : '0.0.0.0', () => enlargeReceiveBuffer(upstream));
    const flow: Flow = {
      key: `${client.address}|${client.port}`,
      ordinal: nextOrdinal++,
      client,
      upstream,
      lastActive: now(),
      up: new Lane({ stats: stats.up, holdMs, room, now, send: (data) => upstream.send(data, options.forwardPort, forward.address, onSent) }),
      down: new Lane({ stats: stats.down, holdMs, room, now, send: (data) => listener.send(data, client.port, client.address, onSent) }),
    };
    upstream.on('message', (data, from) => {
      // Only the server's replies go back to the client.
      if (closed || from.port !== options.forwardPort || from.address !== forward.address) return;
      flow.lastActive = now();
      flow.down.accept(data, decide(settings.down, seed, { direction: 'down', flow: flow.ordinal, index: flow.down.next++ }));
    });
    flows.set(flow.key, flow);
    stats.clients.seen++;
    stats.clients.active = flows.size;
    return flow;
  };

  listener.on('message', (data, client) => {
    if (closed) return;
    const flow = flows.get(`${client.address}|${client.port}`) ?? openFlow(client);
    flow.lastActive = now();
    flow.up.accept(data, decide(settings.up, seed, { direction: 'up', flow: flow.ordinal, index: flow.up.next++ }));
  });

  // Idle clients are looked for a few times per timeout (nothing is forgotten while queued).
  const sweep =
    idleTimeoutMs > 0
      ? setInterval(() => {
          const t = now();
          for (const flow of [...flows.values()]) {
            if (t - flow.lastActive >= idleTimeoutMs && flow.up.pending === 0 && flow.down.pending === 0) {
              void forget(flow);
              stats.clients.expired++;
            }
          }
        }, Math.min(5000, Math.max(10, idleTimeoutMs / 4)))
      : undefined;
  sweep?.unref();

  const address = listener.address();
  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    forward: { host: forward.address, port: options.forwardPort },
    seed,
    settings,
    get stats(): RelayStats {
      return copyStats(stats);
    },
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        clearInterval(sweep);
        const closings = [...flows.values()].map(forget);
        closings.push(new Promise<void>((resolve) => listener.close(() => resolve())));
        await Promise.all(closings);
      })();
      return closing;
    },
  };
}

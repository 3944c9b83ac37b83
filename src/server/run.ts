// Starts the ingest server: opens the store, listens on TCP and UDP, and shuts down in order
// (stop taking input, answer what is in flight, close the links, close the store).
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { listenTcp, listenUdp, type LinkHandler, type Listener } from '../transport/index.ts';
import { IngestServer } from './ingest.ts';
import type { ConfigPolicy } from './policy.ts';

export const DEFAULT_PORT = 7878;

export interface ServerOptions {
  readonly host: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly store: Store;
  readonly log: Logger;
  readonly keys?: ReadonlyMap<number, Uint8Array>;
  readonly policy?: ConfigPolicy;
  readonly maxConnections?: number;
  readonly idleTimeoutMs?: number;
  /** Set in cluster workers: other processes write the same store. */
  readonly sharedStore?: boolean;
}

export interface RunningServer {
  readonly ingest: IngestServer;
  readonly tcp: Listener;
  readonly udp: Listener;
  /** Stops accepting, answers what is in flight, closes links and the store. Idempotent. */
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const ingest = new IngestServer({
    store: options.store,
    log: options.log,
    ...(options.keys ? { keys: options.keys } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    sharedStore: options.sharedStore ?? false,
  });
  // Once shutdown starts, frames are neither stored nor acknowledged: a device still holds
  // them and sends them again to the next server. (Storing without acknowledging would be safe
  // but would leave the device unsure.)
  let closing = false;
  const handler: LinkHandler = {
    open: (link) => ingest.handler.open?.(link),
    frame: (link, frame) => {
      if (closing) {
        link.pause();
        return;
      }
      ingest.handler.frame(link, frame);
    },
    close: (link, error) => ingest.handler.close?.(link, error),
  };
  const tcp = await listenTcp(
    {
      host: options.host,
      port: options.tcpPort,
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    },
    handler,
  );
  let udp: Listener;
  try {
    udp = await listenUdp({ host: options.host, port: options.udpPort }, handler);
  } catch (error) {
    await tcp.close(0);
    throw error;
  }
  let shutdown: Promise<void> | undefined;
  return {
    ingest,
    tcp,
    udp,
    close(): Promise<void> {
      shutdown ??= (async () => {
        // Take nothing new, answer everything already taken, then end the connections and UDP.
        closing = true;
        await ingest.drain();
        await Promise.all([tcp.close(2000), udp.close()]);
        await ingest.drain();
        ingest.close();
        await options.store.close();
      })();
      return shutdown;
    },
  };
}

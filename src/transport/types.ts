// One interface for every transport. A listener delivers frames (decoded messages, or the
// reason a message did not decode) from links; a link sends encoded messages back to its peer.
// Transports know the protocol's framing and nothing of servers, devices or storage.
import type { Frame } from '../protocol/index.ts';

export type TransportKind = 'tcp' | 'udp' | 'memory';

/** A channel to one peer that carries whole messages. */
export interface Link {
  readonly kind: TransportKind;
  /** The peer as host:port (or [v6]:port), for logs and replies. */
  readonly remote: string;
  /** True while the link can still send. */
  readonly open: boolean;
  /**
   * Sends one encoded message; a TCP link adds the length prefix. Returns false when the link
   * is closed (the message is dropped).
   */
  send(message: Uint8Array): boolean;
  /** Stops delivering frames until resume() (TCP: stops reading the socket). */
  pause(): void;
  resume(): void;
  /** Closes the link after what was sent has been flushed. */
  close(): void;
}

export interface LinkHandler {
  /** A new connection was accepted or made (not called for UDP datagrams). */
  open?(link: Link): void;
  /** One frame from the link, in the order the peer sent them (per TCP connection). */
  frame(link: Link, frame: Frame): void;
  /** The link closed: on request, by the peer, or because of `error`. */
  close?(link: Link, error?: Error): void;
}

export interface ListenOptions {
  /** Address to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** TCP: connections beyond this get ERROR BUSY and are closed. Default: no limit. */
  readonly maxConnections?: number;
  /** TCP: a connection silent for this long gets ERROR IDLE_TIMEOUT and is closed. Default 60 s; 0 = never. */
  readonly idleTimeoutMs?: number;
  /** TCP: bytes queued for a peer that does not read, before the connection is dropped. Default 1 MiB. */
  readonly maxQueuedBytes?: number;
}

export interface Listener {
  readonly kind: TransportKind;
  /** The address really bound (the port chosen when 0 was asked). */
  readonly host: string;
  readonly port: number;
  /** Live links (TCP connections). */
  readonly connections: number;
  /** Stops accepting; closes every link, gracefully (flush, then FIN) within `graceMs`, then forcibly. */
  close(graceMs?: number): Promise<void>;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Aborting closes the connection (or stops the attempt). */
  readonly signal?: AbortSignal;
  /** Give up connecting after this long. Default 5 s. */
  readonly timeoutMs?: number;
}

/** A link made by connecting out, with a promise that settles when it closes. */
export interface Connection extends Link {
  /** Resolves when the link has closed, with the error that closed it, if any. */
  readonly closed: Promise<Error | undefined>;
}

export interface Transport {
  readonly kind: TransportKind;
  listen(options: ListenOptions, handler: LinkHandler): Promise<Listener>;
  connect(options: ConnectOptions, handler: LinkHandler): Promise<Connection>;
}

/** host:port, with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

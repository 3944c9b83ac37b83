// Small socket helpers the examples share: start listening and say where, name a peer the Python way.
import { once } from 'node:events';
import { isIPv6 } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { addrRepr } from './pyrepr.ts';

/**
 * bind() + listen() for a TCP server, then prints the address really bound, e.g.
 * "Listening on 127.0.0.1:41234" (with port 0 the OS picks the port; this line tells which).
 */
export async function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  server.listen({ host, port });
  await once(server, 'listening'); // rejects if 'error' (EADDRINUSE, EACCES, ...) comes first
  return announce(server.address() as AddressInfo);
}

/** bind() for a UDP socket, then prints the bound address like listen() does. */
export async function bindUdp(socket: UdpSocket, host: string, port: number): Promise<AddressInfo> {
  socket.bind({ address: host, port });
  await once(socket, 'listening');
  return announce(socket.address());
}

function announce(addr: AddressInfo): AddressInfo {
  console.log(`Listening on ${addr.address}:${addr.port}`);
  return addr;
}

/** 'udp6' for an IPv6 literal, else 'udp4' (host names then resolve to IPv4, like AF_INET). */
export function udpType(host: string): 'udp4' | 'udp6' {
  return isIPv6(host) ? 'udp6' : 'udp4';
}

/** The peer of a TCP socket as Python prints it: ('127.0.0.1', 54321). */
export function peerRepr(socket: Socket): string {
  return addrRepr({
    address: socket.remoteAddress ?? '?',
    port: socket.remotePort ?? 0,
    family: socket.remoteFamily ?? 'IPv4',
  });
}

export * from './types.ts';
export { TransportError } from './errors.ts';
export { tcp, listenTcp, connectTcp } from './tcp.ts';
export { udp, listenUdp, connectUdp, datagramFrame } from './udp.ts';
export { createMemoryTransport } from './memory.ts';

// The reliable-UDP mode's state machines (PROTOCOL.md §7), free of sockets and timers.
export { RtoEstimator, RTO_INITIAL_MS, RTO_MAX_MS, RTO_MIN_MS } from './rto.ts';
export { RudpReceiver, RUDP_WINDOW, ACK_DELAY_MS, ACK_EVERY, type Arrival } from './receiver.ts';
export {
  RudpSender, MAX_RETRANSMISSIONS, MIN_PROBE_MS, MIN_REORDER_MS, type AckInfo, type AckResult, type Expiry, type Held, type RetransmitReason,
} from './sender.ts';

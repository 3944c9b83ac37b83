// A plain ACK (no rudp fields, no CONFIG, no tag: what the server sends for every TCP and UDP
// READINGS) written straight into a caller's buffer. It gives the bytes encode() gives for the
// same message (test/protocol/ack.test.ts), without building the message object, the encoder's
// checks or a copy per message. Values are the caller's to check: ids and seqs from a decoded
// message, a receive time from the clock, a hold under Limits.MAX_VARINT.
import { AckStatus, MessageType, VERSION, type AckStatusName } from './constants.ts';

/** The most bytes writePlainAck writes: type, flags, four varints of ≤ 5 bytes, status, time48. */
export const MAX_PLAIN_ACK = 2 + 5 + 5 + 1 + 5 + 6 + 5;

const TYPE_BYTE = (VERSION << 4) | MessageType.ACK;

function varint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

/**
 * Writes the ACK at `out[at]` (MAX_PLAIN_ACK bytes must be free there) and returns the offset
 * after it.
 */
export function writePlainAck(
  out: Uint8Array, at: number,
  deviceId: number, seq: number, status: AckStatusName, ackSeq: number, rxTime: number, holdUs: number,
): number {
  out[at++] = TYPE_BYTE;
  out[at++] = 0;
  at = varint(out, at, deviceId);
  at = varint(out, at, seq);
  out[at++] = AckStatus[status];
  at = varint(out, at, ackSeq);
  // 48-bit big-endian milliseconds: the top 16 bits, then the low 32.
  const high = Math.floor(rxTime / 2 ** 32);
  const low = rxTime - high * 2 ** 32;
  out[at++] = high >>> 8;
  out[at++] = high & 0xff;
  out[at++] = low >>> 24;
  out[at++] = (low >>> 16) & 0xff;
  out[at++] = (low >>> 8) & 0xff;
  out[at++] = low & 0xff;
  return varint(out, at, holdUs);
}

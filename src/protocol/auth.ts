// The authentication tag: HMAC-SHA-256 with the device's pre-shared key over the session number
// (4 bytes, big-endian) followed by header and body, truncated to its first TAG_LENGTH bytes
// (PROTOCOL.md §8). The session is not on the wire in most messages; putting it under the tag
// keeps a message of one session from passing as one of another. The MAC function is a seam so
// that another crypto provider can stand in for node:crypto.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TAG_LENGTH } from './constants.ts';

/** Computes a full (untruncated) MAC of `data` under `key`. */
export type MacFunction = (key: Uint8Array, data: Uint8Array) => Uint8Array;

export const hmacSha256: MacFunction = (key, data) => createHmac('sha256', key).update(data).digest();

/** The tag for the signed bytes (header and body) of a message of `session`. */
export function computeTag(key: Uint8Array, session: number, signed: Uint8Array, mac: MacFunction = hmacSha256): Uint8Array {
  if (!Number.isInteger(session) || session < 0 || session > 0xffff_ffff) throw new RangeError(`session ${session} is not a u32`);
  const data = new Uint8Array(4 + signed.length);
  new DataView(data.buffer).setUint32(0, session);
  data.set(signed, 4);
  return mac(key, data).subarray(0, TAG_LENGTH);
}

/**
 * True when `message` (a whole message whose AUTH flag is set) ends in the right tag for `key`
 * and `session`.
 * Compares in constant time.
 */
export function verifyTag(key: Uint8Array, session: number, message: Uint8Array, mac: MacFunction = hmacSha256): boolean {
  if (message.length < TAG_LENGTH + 1) return false;
  const signedEnd = message.length - TAG_LENGTH;
  const expected = computeTag(key, session, message.subarray(0, signedEnd), mac);
  return timingSafeEqual(expected, message.subarray(signedEnd));
}

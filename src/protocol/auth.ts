// The authentication tag: HMAC-SHA-256 over header and body with the device's pre-shared key,
// truncated to its first TAG_LENGTH bytes. The MAC function is a seam so that another crypto
// provider can stand in for node:crypto.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TAG_LENGTH } from './constants.ts';

/** Computes a full (untruncated) MAC of `data` under `key`. */
export type MacFunction = (key: Uint8Array, data: Uint8Array) => Uint8Array;

export const hmacSha256: MacFunction = (key, data) => createHmac('sha256', key).update(data).digest();

/** The tag for the signed bytes (header and body). */
export function computeTag(key: Uint8Array, signed: Uint8Array, mac: MacFunction = hmacSha256): Uint8Array {
  return mac(key, signed).subarray(0, TAG_LENGTH);
}

/**
 * True when `message` (a whole message whose AUTH flag is set) ends in the right tag for `key`.
 * Compares in constant time.
 */
export function verifyTag(key: Uint8Array, message: Uint8Array, mac: MacFunction = hmacSha256): boolean {
  if (message.length < TAG_LENGTH + 1) return false;
  const signedEnd = message.length - TAG_LENGTH;
  const expected = computeTag(key, message.subarray(0, signedEnd), mac);
  return timingSafeEqual(expected, message.subarray(signedEnd));
}

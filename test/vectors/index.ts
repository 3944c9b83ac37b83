// Loads the protocol's test vectors. Other suites (the analyzer, the Wireshark dissector, the
// interop peers) read the same files.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorCodeName } from '../../src/protocol/errors.ts';
import type { Json } from '../../src/protocol/json.ts';

function load<T>(name: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(name, import.meta.url)), 'utf8')) as T;
}

export interface ValidVector {
  readonly name: string;
  readonly description: string;
  /** The message, hex. */
  readonly hex: string;
  /** The message with its TCP length prefix, hex. */
  readonly frame: string;
  /** Pre-shared key (hex) the tag was computed with, for authenticated vectors. */
  readonly key?: string;
  /** The session the tag binds (PROTOCOL.md §8), for authenticated vectors. */
  readonly session?: number;
  /** The decoded message in its JSON form (src/protocol/json.ts). */
  readonly message: Json;
}

export interface InvalidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly error: ErrorCodeName;
  readonly offset: number;
  /** Decode with this limit (e.g. 1200 for a UDP datagram); the default is the TCP limit. */
  readonly maxMessageSize?: number;
}

export interface StreamInvalidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly error: ErrorCodeName;
  /** Offset of the bad length prefix in the stream. */
  readonly offset: number;
  /** Good frames that come before the bad prefix. */
  readonly framesBefore: number;
}

export const validVectors = load<ValidVector[]>('./valid.json');
export const invalidVectors = load<InvalidVector[]>('./invalid.json');
export const streamInvalidVectors = load<StreamInvalidVector[]>('./stream-invalid.json');

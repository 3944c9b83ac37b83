// Options shared by several commands, and helpers to read them once at the edge.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../log.ts';
import { fromHex } from '../protocol/index.ts';

export const logLevelOption = (): Option<'--log-level <level>', undefined, LogLevel, LogLevel, false, (typeof LOG_LEVELS)[number]> =>
  new Option('--log-level <level>', 'log level (logs go to stderr as JSON lines)').choices(LOG_LEVELS).default('info' as LogLevel);

const hexKey = z
  .string()
  .regex(/^([0-9a-fA-F]{2}){16,64}$/, 'a key is 16 to 64 bytes written as hex');

const keysFile = z.record(z.string().regex(/^\d+$/, 'device ids are whole numbers'), hexKey);

/** Reads a keys file: a JSON object from device id to hex key, e.g. {"42": "00112233…"}. */
export function readKeysFile(path: string): Map<number, Uint8Array> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read keys file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = keysFile.safeParse(json);
  if (!parsed.success) {
    throw new Error(`keys file ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`);
  }
  const keys = new Map<number, Uint8Array>();
  for (const [id, hex] of Object.entries(parsed.data)) keys.set(Number(id), fromHex(hex));
  return keys;
}

/** Parses a --key value. */
export function parseKey(text: string): Uint8Array {
  const parsed = hexKey.safeParse(text.trim());
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'not a hex key');
  return fromHex(parsed.data);
}

// Parsers for command-line values. Each throws InvalidArgumentError (commander prints it with the
// option's name and exits 1) with a message that says what is accepted.
import { InvalidArgumentError } from '@commander-js/extra-typings';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "2s", "1.5m", "1h", or a bare number of milliseconds → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a duration: use e.g. 250ms, 2s, 1.5m, 1h`);
  const ms = Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`"${text}" is too long a duration`);
  return Math.round(ms);
}

/** A whole number in [min, max]. */
export function parseInteger(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`"${text}" is not a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

export const parsePort = parseInteger(0, 65535);

/** A port to send to: 0 means "any" only when listening. */
export const parseRemotePort = parseInteger(1, 65535);

/**
 * A point in time → Unix ms: an ISO 8601 date or date-time ("2026-11-23", "2026-11-23T10:00:00Z"),
 * Unix milliseconds, or a duration before now ("10m" = ten minutes ago).
 */
export function parseTime(text: string, now = Date.now()): number {
  const t = text.trim();
  if (/^\d{12,}$/.test(t)) return Number(t);
  if (/^\d+(?:\.\d+)?(ms|s|m|h)$/.test(t)) return now - parseDuration(t);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidArgumentError(`"${text}" is not a time: use an ISO date (2026-11-23T10:00:00Z), Unix ms, or a duration ago (10m)`);
}

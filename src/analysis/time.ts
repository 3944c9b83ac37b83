// Timestamp arithmetic: capture ticks to nanoseconds, and nanoseconds to the text tshark
// prints for frame.time_epoch.

/** A timestamp unit of base^-exponent seconds. */
export interface TickResolution {
  readonly base: 10 | 2;
  readonly exponent: number;
}

const NS_PER_SECOND = 1_000_000_000n;

/** Converts a tick count to nanoseconds, truncating anything finer than a nanosecond. */
export function ticksToNs(ticks: bigint, resolution: TickResolution): bigint {
  const e = BigInt(resolution.exponent);
  if (resolution.base === 10) {
    if (resolution.exponent <= 9) return ticks * 10n ** (9n - e);
    return ticks / 10n ** (e - 9n);
  }
  const whole = ticks >> e;
  const fraction = ticks & ((1n << e) - 1n);
  return whole * NS_PER_SECOND + ((fraction * NS_PER_SECOND) >> e);
}

/** "seconds.nnnnnnnnn", the form tshark prints for frame.time_epoch. */
export function formatEpochNs(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  const fraction = (abs % NS_PER_SECOND).toString().padStart(9, '0');
  return `${sign}${abs / NS_PER_SECOND}.${fraction}`;
}

// What the relay does to one datagram, decided from the seed alone. Each datagram is named by
// its direction, the flow it belongs to (clients are numbered in the order they first appear)
// and its position in that flow and direction; the name and the seed pick a mulberry32 stream
// from which four numbers are drawn, always four and always in the same order. So a decision
// depends on nothing but (settings, seed, name): the same datagrams in the same order get the
// same fate, and changing one setting (say the loss) does not reshuffle the others.
import { createRandom } from '../device/random.ts';

export type Direction = 'up' | 'down';

/** What to do to the datagrams of one direction. */
export interface Impairment {
  /** Probability of dropping a datagram, 0..1. */
  readonly loss: number;
  /** Probability of sending a datagram that passes twice, 0..1. */
  readonly duplicate: number;
  /** Probability of holding a datagram back until a later one has passed (or the hold ends), 0..1. */
  readonly reorder: number;
  /** Fixed delay added to every datagram that passes, ms. */
  readonly delayMs: number;
  /** The delay varies uniformly by up to this much either way (never below 0), ms. */
  readonly jitterMs: number;
}

export const NO_IMPAIRMENT: Impairment = { loss: 0, duplicate: 0, reorder: 0, delayMs: 0, jitterMs: 0 };

/** Names one datagram: its direction, its flow's number and its position (0, 1, …) in the flow and direction. */
export interface DatagramKey {
  readonly direction: Direction;
  readonly flow: number;
  readonly index: number;
}

export interface Decision {
  readonly drop: boolean;
  /** How many times it is sent: 0 when dropped, 2 when duplicated, else 1. */
  readonly copies: 0 | 1 | 2;
  /** Hold it back so that a later datagram overtakes it. */
  readonly reorder: boolean;
  /** How long it waits in the relay before it is sent (or held), ms. */
  readonly delayMs: number;
}

/** Throws a RangeError naming the first setting out of range. */
export function validateImpairment(impairment: Impairment, label = 'impairment'): void {
  for (const name of ['loss', 'duplicate', 'reorder'] as const) {
    const p = impairment[name];
    if (!(Number.isFinite(p) && p >= 0 && p <= 1)) throw new RangeError(`${label}: ${name} must be a probability from 0 to 1, not ${p}`);
  }
  for (const name of ['delayMs', 'jitterMs'] as const) {
    const ms = impairment[name];
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`${label}: ${name} must be 0 or more, not ${ms}`);
  }
}

// The murmur3 finaliser: spreads every input bit over the whole word.
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 32-bit seed of one datagram's random stream. */
export function datagramSeed(seed: number, key: DatagramKey): number {
  let h = fmix32(seed >>> 0);
  h = fmix32(h ^ (key.direction === 'up' ? 0x7570_7570 : 0x646f_776e));
  h = fmix32((h + Math.imul((key.flow + 1) >>> 0, 0x9e37_79b9)) >>> 0);
  h = fmix32(h ^ (key.index >>> 0));
  const high = Math.floor(key.index / 0x1_0000_0000);
  return high === 0 ? h : fmix32(h ^ Math.imul(high, 0x27d4_eb2f));
}

/** The fate of one datagram. Pure: the same arguments always give the same decision. */
export function decide(impairment: Impairment, seed: number, key: DatagramKey): Decision {
  const random = createRandom(datagramSeed(seed, key));
  const uLoss = random.next();
  const uDuplicate = random.next();
  const uReorder = random.next();
  const uJitter = random.next();
  if (uLoss < impairment.loss) return { drop: true, copies: 0, reorder: false, delayMs: 0 };
  const jitter = impairment.jitterMs * (2 * uJitter - 1);
  return {
    drop: false,
    copies: uDuplicate < impairment.duplicate ? 2 : 1,
    reorder: uReorder < impairment.reorder,
    delayMs: Math.max(0, impairment.delayMs + jitter),
  };
}

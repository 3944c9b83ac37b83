// The decision function: pure, seeded, at the configured rates, directions and flows independent,
// delays within delay ± jitter, settings validated.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide, NO_IMPAIRMENT, validateImpairment, type Decision, type Direction, type Impairment } from '../../src/impair/decisions.ts';

const N = 20_000;

function run(impairment: Impairment, seed: number, direction: Direction = 'up', flow = 0, n = N): Decision[] {
  return Array.from({ length: n }, (_, index) => decide(impairment, seed, { direction, flow, index }));
}

const share = (ds: Decision[], f: (d: Decision) => boolean): number => ds.filter(f).length / ds.length;

describe('impairment decisions', () => {
  it('are pure: the same settings, seed and datagram always give the same decision, in any order', () => {
    const settings: Impairment = { loss: 0.3, duplicate: 0.1, reorder: 0.2, delayMs: 20, jitterMs: 10 };
    const forward = run(settings, 42, 'up', 0, 500);
    const backward = Array.from({ length: 500 }, (_, i) => 499 - i).map((index) => decide(settings, 42, { direction: 'up', flow: 0, index })).reverse();
    assert.deepEqual(backward, forward);
    assert.deepEqual(run(settings, 42, 'up', 0, 500), forward);
    assert.notDeepEqual(run(settings, 43, 'up', 0, 500), forward, 'another seed, other decisions');
  });

  it('with no impairment pass everything at once, once, in order', () => {
    for (const d of run(NO_IMPAIRMENT, 7, 'down', 3, 2000)) assert.deepEqual(d, { drop: false, copies: 1, reorder: false, delayMs: 0 });
  });

  it('with loss 1 drop everything', () => {
    for (const d of run({ ...NO_IMPAIRMENT, loss: 1, duplicate: 1, reorder: 1, delayMs: 5 }, 7, 'up', 0, 2000)) {
      assert.deepEqual(d, { drop: true, copies: 0, reorder: false, delayMs: 0 });
    }
  });

  it('drop, duplicate and reorder at the configured rates', () => {
    const ds = run({ loss: 0.2, duplicate: 0.05, reorder: 0.1, delayMs: 0, jitterMs: 0 }, 1234);
    const passed = ds.filter((d) => !d.drop);
    // Binomial standard deviations at N = 20 000 are well under 0.5 %; allow about five.
    assert.ok(Math.abs(share(ds, (d) => d.drop) - 0.2) < 0.015, `loss ${share(ds, (d) => d.drop)}`);
    assert.ok(Math.abs(share(passed, (d) => d.copies === 2) - 0.05) < 0.01, `duplicate ${share(passed, (d) => d.copies === 2)}`);
    assert.ok(Math.abs(share(passed, (d) => d.reorder) - 0.1) < 0.012, `reorder ${share(passed, (d) => d.reorder)}`);
    // And the three are independent: duplicated-and-reordered as often as the product says.
    assert.ok(Math.abs(share(passed, (d) => d.reorder && d.copies === 2) - 0.005) < 0.003);
  });

  it('keep directions and flows independent of each other', () => {
    const settings = { ...NO_IMPAIRMENT, loss: 0.5 };
    const up = run(settings, 99, 'up', 0);
    for (const other of [run(settings, 99, 'down', 0), run(settings, 99, 'up', 1)]) {
      // Independent fair coins agree half of the time.
      const agree = up.filter((d, i) => d.drop === other[i]!.drop).length / N;
      assert.ok(Math.abs(agree - 0.5) < 0.02, `agreement ${agree}`);
    }
  });

  it('draw each setting from its own number: changing the loss leaves the survivors’ fate alone', () => {
    const base = { loss: 0.1, duplicate: 0.3, reorder: 0.3, delayMs: 50, jitterMs: 40 };
    const a = run(base, 5, 'up', 0, 3000);
    const b = run({ ...base, loss: 0.4 }, 5, 'up', 0, 3000);
    a.forEach((d, i) => {
      if (!d.drop && !b[i]!.drop) assert.deepEqual(b[i], d);
      if (d.drop) assert.ok(b[i]!.drop, 'dropped at 10 % means dropped at 40 %');
    });
  });

  it('delay within delay ± jitter, centred on the delay, never below zero', () => {
    const ds = run({ ...NO_IMPAIRMENT, delayMs: 20, jitterMs: 10 }, 3);
    const delays = ds.map((d) => d.delayMs);
    assert.ok(Math.min(...delays) >= 10 && Math.max(...delays) <= 30);
    const mean = delays.reduce((a, b) => a + b, 0) / N;
    assert.ok(Math.abs(mean - 20) < 0.3, `mean ${mean}`);
    assert.ok(Math.min(...delays) < 10.1 && Math.max(...delays) > 29.9, 'the whole range is used');
    const clamped = run({ ...NO_IMPAIRMENT, delayMs: 5, jitterMs: 10 }, 3).map((d) => d.delayMs);
    assert.ok(Math.min(...clamped) === 0 && Math.max(...clamped) <= 15);
  });

  it('are well-formed for any settings, seed and position (property)', () => {
    const probability = fc.double({ min: 0, max: 1, noNaN: true });
    const ms = fc.double({ min: 0, max: 10_000, noNaN: true });
    fc.assert(
      fc.property(
        fc.record({ loss: probability, duplicate: probability, reorder: probability, delayMs: ms, jitterMs: ms }),
        fc.nat({ max: 0xffff_ffff }),
        fc.constantFrom<Direction>('up', 'down'),
        fc.nat(),
        fc.maxSafeNat(),
        (settings, seed, direction, flow, index) => {
          const d = decide(settings, seed, { direction, flow, index });
          assert.deepEqual(decide(settings, seed, { direction, flow, index }), d);
          if (d.drop) assert.deepEqual(d, { drop: true, copies: 0, reorder: false, delayMs: 0 });
          else {
            assert.ok(d.copies === 1 || d.copies === 2);
            assert.ok(d.delayMs >= 0 && d.delayMs >= settings.delayMs - settings.jitterMs - 1e-9 && d.delayMs <= settings.delayMs + settings.jitterMs + 1e-9);
          }
          if (settings.loss === 0) assert.equal(d.drop, false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuse settings out of range, naming them', () => {
    for (const [bad, pattern] of [
      [{ loss: 1.5 }, /up: loss must be a probability from 0 to 1, not 1.5/],
      [{ duplicate: -0.1 }, /duplicate/],
      [{ reorder: Number.NaN }, /reorder/],
      [{ delayMs: -1 }, /delayMs must be 0 or more/],
      [{ jitterMs: Number.POSITIVE_INFINITY }, /jitterMs/],
    ] as const) {
      assert.throws(() => validateImpairment({ ...NO_IMPAIRMENT, ...bad }, 'up'), pattern);
    }
    assert.doesNotThrow(() => validateImpairment({ loss: 1, duplicate: 0, reorder: 1, delayMs: 0, jitterMs: 0 }));
  });
});

// The anti-replay window (PROTOCOL.md §8, src/server/replay.ts): the highest accepted seq and the
// 64 below it. Edge cases by hand, then random sequences against a plain model that remembers
// every accepted seq.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { REPLAY_WINDOW, ReplayWindow } from '../../src/server/replay.ts';

/** What the window must answer, from every seq ever accepted (after a restart at `restart`). */
class Model {
  private readonly accepted = new Set<number>();
  highest: number;
  constructor(private readonly restart = 0) {
    this.highest = restart;
  }
  tooOld(seq: number): boolean {
    return seq + REPLAY_WINDOW <= this.highest;
  }
  seenBefore(seq: number): boolean {
    if (seq > this.highest) return false;
    return this.tooOld(seq) || seq <= this.restart || this.accepted.has(seq);
  }
  accept(seq: number): void {
    this.accepted.add(seq);
    this.highest = Math.max(this.highest, seq);
  }
}

describe('ReplayWindow', { timeout: 120_000 }, () => {
  it('starts empty: nothing seen, nothing too old', () => {
    const w = new ReplayWindow();
    assert.equal(w.highest, 0);
    assert.equal(w.seenBefore(1), false);
    assert.equal(w.tooOld(1), false);
  });

  it('remembers the 64 seqs up to the highest and refuses everything older', () => {
    const w = new ReplayWindow();
    w.accept(100);
    assert.equal(w.seenBefore(100), true);
    assert.equal(w.seenBefore(99), false, 'below the highest but never accepted');
    assert.equal(w.tooOld(37), false, '100 − 63 is still judged');
    assert.equal(w.seenBefore(37), false);
    assert.equal(w.tooOld(36), true, '100 − 64 is too old');
    assert.equal(w.seenBefore(36), true);
    w.accept(37);
    assert.equal(w.seenBefore(37), true);
    w.accept(101); // 37 slides out of the window: now too old
    assert.equal(w.tooOld(37), true);
    assert.equal(w.seenBefore(100), true);
    assert.equal(w.seenBefore(38), false);
  });

  for (const jump of [1, 63, 64, 65, 1000]) {
    it(`keeps the right bits when the highest moves up by ${jump}`, () => {
      const w = new ReplayWindow();
      w.accept(10);
      w.accept(8);
      w.accept(10 + jump);
      assert.equal(w.seenBefore(10 + jump), true);
      assert.equal(w.tooOld(10), jump >= REPLAY_WINDOW);
      assert.equal(w.seenBefore(10), true, 'seq 10: remembered, or too old');
      assert.equal(w.seenBefore(8), true, 'seq 8: remembered, or too old');
      assert.equal(w.seenBefore(9), 9 + REPLAY_WINDOW <= 10 + jump, 'seq 9: never accepted, seen only once too old');
      if (jump > 1) assert.equal(w.seenBefore(11), 11 + REPLAY_WINDOW <= 10 + jump);
    });
  }

  it('after a restart counts every seq up to the stored highest as seen, and takes those above', () => {
    const w = new ReplayWindow(500);
    assert.equal(w.seenBefore(500), true);
    assert.equal(w.seenBefore(499), true);
    assert.equal(w.seenBefore(437), true);
    assert.equal(w.seenBefore(501), false);
    w.accept(503);
    assert.equal(w.seenBefore(502), false);
    assert.equal(w.seenBefore(500), true);
  });

  it('handles seqs up to 2³²−1', () => {
    const w = new ReplayWindow();
    w.accept(0xffff_ffff);
    assert.equal(w.seenBefore(0xffff_ffff), true);
    assert.equal(w.seenBefore(0xffff_fffe), false);
    assert.equal(w.tooOld(0xffff_ffff - 64), true);
  });

  it('agrees with a model that remembers every accepted seq', () => {
    const seq = fc.integer({ min: 1, max: 400 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.array(fc.tuple(fc.boolean(), seq), { maxLength: 300 }), (restart, steps) => {
        const w = new ReplayWindow(restart);
        const m = new Model(restart);
        for (const [accept, s] of steps) {
          assert.equal(w.seenBefore(s), m.seenBefore(s), `seenBefore(${s}) with highest ${m.highest}`);
          assert.equal(w.tooOld(s), m.tooOld(s), `tooOld(${s})`);
          if (accept) {
            w.accept(s);
            m.accept(s);
            assert.equal(w.highest, m.highest);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RTO_INITIAL_MS, RTO_MAX_MS, RTO_MIN_MS, RtoEstimator } from '../../../src/transport/rudp/index.ts';

describe('RTO estimator (RFC 6298 §2, clamped to 50 ms … 10 s)', () => {
  it('starts at 500 ms', () => {
    assert.equal(new RtoEstimator().rto, RTO_INITIAL_MS);
  });

  it('first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR', () => {
    const e = new RtoEstimator();
    e.sample(100);
    assert.equal(e.srtt, 100);
    assert.equal(e.rttvar, 50);
    assert.equal(e.rto, 300);
  });

  it('later samples smooth with α = 1/8 and β = 1/4', () => {
    const e = new RtoEstimator();
    e.sample(100);
    e.sample(200);
    // RTTVAR = 3/4·50 + 1/4·|100 − 200| = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5
    assert.equal(e.rttvar, 62.5);
    assert.equal(e.srtt, 112.5);
    assert.equal(e.rto, 112.5 + 250);
  });

  it('never goes below 50 ms, whatever the samples', () => {
    const e = new RtoEstimator();
    for (let i = 0; i < 50; i++) e.sample(0.1);
    assert.equal(e.rto, RTO_MIN_MS);
  });

  it('doubles on each expiry up to 10 s, and a new sample ends the backoff', () => {
    const e = new RtoEstimator();
    e.sample(100);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      e.expired();
      seen.push(e.rto);
    }
    assert.deepEqual(seen.slice(0, 5), [600, 1200, 2400, 4800, 9600]);
    assert.ok(seen.slice(5).every((x) => x === RTO_MAX_MS));
    e.sample(100);
    assert.ok(e.rto < 600);
  });
});

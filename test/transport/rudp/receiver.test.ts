import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RUDP_WINDOW, RudpReceiver } from '../../../src/transport/rudp/index.ts';

/** Delivers (handles) everything deliverable, returning the seqs in the order handled. */
function drain(r: RudpReceiver<string>): number[] {
  const out: number[] = [];
  for (const { seq } of r.deliverable()) {
    out.push(seq);
    r.handled(seq);
  }
  return out;
}

describe('rudp receiver', () => {
  it('delivers in order, holding what comes early, and advances the cumulative point', () => {
    const r = new RudpReceiver<string>(1);
    assert.equal(r.cumulative, 0);
    assert.deepEqual(r.arrive(2, 'b'), { kind: 'accepted', inOrder: false });
    assert.deepEqual(drain(r), []);
    assert.deepEqual(r.ranges(), [{ first: 2, last: 2 }]);
    assert.equal(r.window, RUDP_WINDOW - 1);
    r.arrive(1, 'a');
    assert.deepEqual(drain(r), [1, 2]);
    assert.equal(r.cumulative, 2);
    assert.deepEqual(r.ranges(), []);
    assert.equal(r.window, RUDP_WINDOW);
  });

  it('discards duplicates at or below the point and of buffered messages, counting them', () => {
    const r = new RudpReceiver<string>(1);
    r.arrive(1);
    drain(r);
    r.arrive(3);
    assert.equal(r.arrive(1).kind, 'duplicate');
    assert.equal(r.arrive(3).kind, 'duplicate');
    assert.equal(r.duplicates, 2);
  });

  it('drops messages more than the window above the point', () => {
    const r = new RudpReceiver<string>(1);
    assert.equal(r.arrive(RUDP_WINDOW + 1).kind, 'outside');
    assert.equal(r.arrive(RUDP_WINDOW).kind, 'accepted');
  });

  it('a message handled out of order (committed late) does not let the point pass a gap', () => {
    const r = new RudpReceiver<string>(1);
    r.arrive(1);
    r.arrive(2);
    const [first, second] = r.deliverable();
    r.handled(second!.seq);
    assert.equal(r.cumulative, 0);
    r.handled(first!.seq);
    assert.equal(r.cumulative, 2);
  });

  it('a HELLO resuming higher raises the point and forgets what it passes, never lowers it', () => {
    const r = new RudpReceiver<string>(1);
    r.arrive(3);
    r.resume(5);
    assert.equal(r.cumulative, 4);
    assert.equal(r.buffered, 0);
    r.resume(2);
    assert.equal(r.cumulative, 4);
  });

  it('gives at most 8 ranges, lowest first, each at least 2 above the one before', () => {
    const r = new RudpReceiver<string>(1);
    for (let seq = 2; seq <= 40; seq += 2) r.arrive(seq);
    const ranges = r.ranges();
    assert.equal(ranges.length, 8);
    assert.deepEqual(ranges[0], { first: 2, last: 2 });
    ranges.forEach((x, i) => assert.ok(x.first >= (i === 0 ? r.cumulative : ranges[i - 1]!.last) + 2));
  });

  it('in order means an unbroken run above the point ending at the new seq, even while earlier ones are not yet handled', () => {
    const r = new RudpReceiver<string>(1);
    assert.deepEqual(r.arrive(1, 'a'), { kind: 'accepted', inOrder: true });
    assert.deepEqual(r.arrive(2, 'b'), { kind: 'accepted', inOrder: true }, '1 is still being committed');
    assert.deepEqual(r.arrive(4, 'd'), { kind: 'accepted', inOrder: false }, 'a gap opens');
    assert.deepEqual(r.arrive(3, 'c'), { kind: 'accepted', inOrder: false }, 'the gap fills');
    r.handled(1);
    assert.deepEqual(r.arrive(5, 'e'), { kind: 'accepted', inOrder: true });
  });

  it('asks for an ACK after every second in-order message', () => {
    const r = new RudpReceiver<string>(1);
    r.arrive(1);
    drain(r);
    assert.equal(r.ackDue(), false);
    r.arrive(2);
    drain(r);
    assert.equal(r.ackDue(), true);
    r.acked();
    assert.equal(r.ackDue(), false);
  });

  it('whatever the arrival order and duplication, each seq is delivered once and in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 300 }), (arrivals) => {
        const r = new RudpReceiver<string>(1);
        const out: number[] = [];
        for (const seq of [...arrivals, ...Array.from({ length: 60 }, (_, i) => i + 1)]) {
          r.arrive(seq);
          out.push(...drain(r));
        }
        assert.deepEqual(out, Array.from({ length: 60 }, (_, i) => i + 1));
        assert.equal(r.cumulative, 60);
      }),
      { numRuns: 500 },
    );
  });
});

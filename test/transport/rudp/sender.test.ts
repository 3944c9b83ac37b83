import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DUP_THRESHOLD, MAX_RETRANSMISSIONS, RUDP_WINDOW, RudpSender } from '../../../src/transport/rudp/index.ts';

const bytes = Uint8Array.of(1);

function sender(n: number, now = 0): RudpSender {
  const s = new RudpSender();
  for (let seq = 1; seq <= n; seq++) s.add(seq, bytes);
  for (const h of s.sendable()) s.sent(h, now);
  return s;
}

describe('rudp sender', () => {
  it('sends no more than the window above the cumulative point', () => {
    const s = new RudpSender();
    for (let seq = 1; seq <= 100; seq++) s.add(seq, bytes);
    assert.equal(s.sendable().length, RUDP_WINDOW);
    s.ack({ ackSeq: 0, sack: [], window: 10, holdUs: 0 }, 0);
    assert.equal(s.sendable().length, 10);
  });

  it('a cumulative ACK releases what it covers and gives an RTT sample less the hold', () => {
    const s = sender(3, 1000);
    const r = s.ack({ ackSeq: 2, sack: [], window: 64, holdUs: 2000 }, 1050);
    assert.deepEqual(r.acknowledged.map((h) => h.seq), [1, 2]);
    assert.equal(r.rttMs, 48);
    assert.equal(s.size, 1);
    assert.equal(s.rto.srtt, 48);
  });

  it('Karn: a retransmitted message gives no RTT sample', () => {
    const s = sender(1, 0);
    const first = s.get(1)!;
    const expiry = s.expire(s.deadline()!);
    assert.equal(expiry.retransmit, first);
    s.sent(first, 600);
    const r = s.ack({ ackSeq: 1, sack: [], window: 64, holdUs: 0 }, 650);
    assert.equal(r.rttMs, undefined);
    assert.equal(s.rto.srtt, undefined);
    assert.equal(s.retransmissions, 1);
  });

  it('the timer retransmits the oldest unacknowledged message and backs off', () => {
    const s = sender(3, 0);
    assert.equal(s.deadline(), 500);
    assert.equal(s.expire(499).retransmit, undefined);
    const e = s.expire(500);
    assert.equal(e.retransmit?.seq, 1);
    s.sent(e.retransmit!, 500);
    assert.equal(s.deadline(), 500 + 1000);
  });

  it('fast retransmit: a hole with 3 messages received above it is sent again at once, once per RTO', () => {
    const s = sender(6, 0);
    const partial = s.ack({ ackSeq: 1, sack: [{ first: 3, last: 4 }], window: 64, holdUs: 0 }, 10);
    assert.deepEqual(partial.retransmit, [], 'only 2 above the hole');
    const r = s.ack({ ackSeq: 1, sack: [{ first: 3, last: 5 }], window: 64, holdUs: 0 }, 11);
    assert.deepEqual(r.retransmit.map((h) => h.seq), [2]);
    assert.equal(DUP_THRESHOLD, 3);
    const again = s.ack({ ackSeq: 1, sack: [{ first: 3, last: 6 }], window: 64, holdUs: 0 }, 12);
    assert.deepEqual(again.retransmit, [], 'not again within one RTO');
  });

  it('selectively acknowledged messages are not retransmitted by the timer', () => {
    const s = sender(3, 0);
    s.ack({ ackSeq: 0, sack: [{ first: 2, last: 3 }], window: 64, holdUs: 0 }, 5);
    const e = s.expire(s.deadline()!);
    assert.equal(e.retransmit?.seq, 1);
  });

  it(`gives up after ${MAX_RETRANSMISSIONS} retransmissions of one message`, () => {
    const s = sender(1, 0);
    let now = 0;
    let gaveUp = false;
    for (let i = 0; i < 20 && !gaveUp; i++) {
      now = s.deadline()!;
      const e = s.expire(now);
      gaveUp = e.gaveUp;
      if (e.retransmit) s.sent(e.retransmit, now);
    }
    assert.equal(gaveUp, true);
    assert.equal(s.retransmissions, MAX_RETRANSMISSIONS);
  });

  it('after a resynchronisation everything held is sent again, as retransmissions', () => {
    const s = sender(3, 0);
    s.ack({ ackSeq: 1, sack: [{ first: 3, last: 3 }], window: 64, holdUs: 0 }, 5);
    s.reset();
    assert.deepEqual(s.sendable().map((h) => h.seq), [2, 3]);
    for (const h of s.sendable()) s.sent(h, 10);
    assert.equal(s.retransmissions, 2);
  });

  it('takes its RTT sample from the newest message newly covered, and none from one already covered by a range', () => {
    const s = new RudpSender();
    for (let seq = 1; seq <= 3; seq++) s.add(seq, bytes);
    for (const [i, h] of s.sendable().entries()) s.sent(h, i * 10);
    // 3 arrives first (a gap at 1, 2): its range gives the sample, 100 − 20.
    const first = s.ack({ ackSeq: 0, sack: [{ first: 3, last: 3 }], window: 64, holdUs: 0 }, 100);
    assert.deepEqual([first.rttMs, first.sampled?.seq], [80, 3]);
    // 1 and 2 then arrive; the cumulative ack covers 1–3: the sample is 2's (newest sent once and not yet covered).
    const second = s.ack({ ackSeq: 3, sack: [], window: 64, holdUs: 0 }, 200);
    assert.deepEqual([second.rttMs, second.sampled?.seq], [190, 2]);
    const again = new RudpSender();
    again.add(1, bytes);
    again.sent(again.get(1)!, 0);
    again.add(2, bytes);
    again.sent(again.get(2)!, 0);
    again.ack({ ackSeq: 0, sack: [{ first: 2, last: 2 }], window: 64, holdUs: 0 }, 10);
    again.sent(again.get(1)!, 500);
    const late = again.ack({ ackSeq: 2, sack: [], window: 64, holdUs: 0 }, 900);
    assert.equal(late.rttMs, undefined, '1 was retransmitted and 2 was sampled when its range came');
  });

  it('a pinned message (an unacknowledged HELLO) goes alone, past the window, and is the one the timer sends again', () => {
    const s = new RudpSender();
    s.add(1, bytes);
    s.add(70, bytes);
    s.pin(70);
    assert.deepEqual(s.sendable().map((h) => h.seq), [70], 'alone, and above cumulative + 64');
    for (const h of s.sendable()) s.sent(h, 0);
    s.sent(s.get(1)!, 0);
    assert.equal(s.expire(s.deadline()!).retransmit?.seq, 70);
    s.pin(undefined);
    assert.equal(s.expire(s.deadline()!).retransmit?.seq, 1);
  });

  it('reset() starts the count towards giving up afresh and takes the new cumulative point', () => {
    const s = sender(1, 0);
    let now = 0;
    for (let i = 0; i < MAX_RETRANSMISSIONS; i++) {
      now = s.deadline()!;
      s.sent(s.expire(now).retransmit!, now);
    }
    assert.equal(s.expire(s.deadline()!).gaveUp, true);
    s.reset(0);
    assert.deepEqual(s.sendable().map((h) => h.seq), [1]);
    s.sent(s.get(1)!, now);
    assert.equal(s.expire(s.deadline()!).gaveUp, false);
    s.reset(40);
    assert.equal(s.cumulative, 40);
  });
});

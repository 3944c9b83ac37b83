import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RETRANSMISSIONS, MIN_PROBE_MS, RUDP_WINDOW, RudpSender } from '../../../src/transport/rudp/index.ts';

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
    assert.deepEqual(expiry.retransmit, [first]);
    s.sent(first, 600);
    const r = s.ack({ ackSeq: 1, sack: [], window: 64, holdUs: 0 }, 650);
    assert.equal(r.rttMs, undefined);
    assert.equal(s.rto.srtt, undefined);
    assert.equal(s.retransmissions, 1);
  });

  it('the RTO: every message sent an RTT and the reordering allowance ago goes again, and the timeout doubles', () => {
    const s = sender(3, 0);
    assert.equal(s.deadline(), 500);
    assert.deepEqual(s.expire(499).retransmit, []);
    const e = s.expire(500);
    assert.equal(e.reason, 'timeout');
    assert.deepEqual(e.retransmit.map((h) => h.seq), [1, 2, 3]);
    for (const h of e.retransmit) s.sent(h, 500);
    assert.equal(s.deadline(), 500 + 1000);
  });

  it('the RTO sends again the oldest, and of the others only those sent at least an RTT and the allowance ago', () => {
    const s = new RudpSender();
    for (let seq = 1; seq <= 4; seq++) s.add(seq, bytes);
    s.sent(s.get(1)!, 0);
    s.ack({ ackSeq: 1, sack: [], window: 64, holdUs: 0 }, 20); // RTT 20: RTO 60, allowance 20 + 5
    s.sent(s.get(2)!, 30);
    s.sent(s.get(3)!, 31);
    s.sent(s.get(4)!, 70);
    const e = s.expire(s.rtoDeadline()!); // 20 + 60 = 80
    assert.equal(e.reason, 'timeout');
    assert.deepEqual(e.retransmit.map((h) => h.seq), [2, 3], '4 was sent only 10 ms ago');
  });

  it('RACK: a message is lost once one sent after it has arrived and its RTT plus a quarter of the smallest RTT has passed', () => {
    const s = new RudpSender();
    for (let seq = 1; seq <= 6; seq++) s.add(seq, bytes);
    for (const h of s.sendable()) s.sent(h, h.seq); // seq n at n ms
    // 1 arrives, and 3–5 around a gap at 2: the newest arrival, 5, was sent at 5 and took 15 ms.
    const r = s.ack({ ackSeq: 1, sack: [{ first: 3, last: 5 }], window: 64, holdUs: 0 }, 20);
    assert.deepEqual(r.retransmit, [], '2 may only be late: 2 + 15 + 15/4 > 20');
    assert.equal(s.deadline(), 2 + 15 + 15 / 4, 'the reorder timer');
    const e = s.expire(s.deadline()!);
    assert.equal(e.reason, 'fast');
    assert.deepEqual(e.retransmit.map((h) => h.seq), [2], '6 was sent after 5: not suspected');
    // The retransmission of 2 is lost too: found the same way once something sent after it arrives.
    s.sent(s.get(2)!, 21);
    s.add(7, bytes);
    s.sent(s.get(7)!, 22);
    const again = s.ack({ ackSeq: 1, sack: [{ first: 3, last: 5 }, { first: 7, last: 7 }], window: 64, holdUs: 0 }, 40);
    assert.deepEqual(again.retransmit.map((h) => h.seq), [6], '6 (sent at 6) is lost; 2 (sent at 21) not yet');
    s.sent(s.get(6)!, 40);
    const late = s.expire(s.deadline()!);
    assert.deepEqual(late.retransmit.map((h) => h.seq), [2]);
    assert.equal(late.reason, 'fast');
  });

  it('RACK: selectively acknowledged messages are never sent again, by RACK or by the timer', () => {
    const s = sender(3, 0);
    s.ack({ ackSeq: 0, sack: [{ first: 2, last: 3 }], window: 64, holdUs: 0 }, 5);
    const e = s.expire(s.rtoDeadline()!);
    assert.deepEqual(e.retransmit.map((h) => h.seq), [1]);
  });

  it('the tail loss probe: after two SRTTs and the delayed-ACK time with no ACK, the newest unacknowledged message goes again', () => {
    const s = sender(3, 0);
    s.ack({ ackSeq: 1, sack: [], window: 64, holdUs: 0 }, 10); // SRTT 10: probe after max(20, 2·10 + 10) = 30
    assert.equal(s.deadline(), 10 + 30);
    const probe = s.expire(40);
    assert.equal(probe.reason, 'probe');
    assert.deepEqual(probe.retransmit.map((h) => h.seq), [3]);
    s.sent(probe.retransmit[0]!, 40);
    assert.equal(s.deadline(), 10 + 50, 'one probe, then the RTO (50 ms floor)');
    assert.ok(MIN_PROBE_MS >= 20);
  });

  it(`gives up after ${MAX_RETRANSMISSIONS} retransmissions of one message`, () => {
    const s = sender(1, 0);
    let now = 0;
    let gaveUp = false;
    for (let i = 0; i < 20 && !gaveUp; i++) {
      now = s.deadline()!;
      const e = s.expire(now);
      gaveUp = e.gaveUp;
      for (const h of e.retransmit) s.sent(h, now);
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
    assert.deepEqual(s.expire(s.deadline()!).retransmit.map((h) => h.seq), [70]);
    s.pin(undefined);
    assert.deepEqual(s.expire(s.deadline()!).retransmit.map((h) => h.seq), [1, 70]);
  });

  it('reset() starts the count towards giving up afresh and takes the new cumulative point', () => {
    const s = sender(1, 0);
    let now = 0;
    for (let i = 0; i < MAX_RETRANSMISSIONS; i++) {
      now = s.deadline()!;
      for (const h of s.expire(now).retransmit) s.sent(h, now);
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

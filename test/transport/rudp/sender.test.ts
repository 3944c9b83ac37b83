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
});

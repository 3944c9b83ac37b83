// The device's outbox: bounded (the oldest dropped and counted), a window on what is in flight,
// numbering on first send, and the bookkeeping of takes, requeues and reconnects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outbox, type Outgoing } from '../../src/device/outbox.ts';

const build = (seq: number): Uint8Array => Uint8Array.of(seq & 0xff);

/** Sends what the window allows, numbering from `next`; returns the seqs sent. */
function send(box: Outbox, window: number, next: { seq: number }, now = 0): number[] {
  const sent: number[] = [];
  for (const entry of box.sendable(window)) {
    if (entry.bytes === undefined) box.number(entry, next.seq++);
    box.markSent(entry, now, now);
    sent.push(entry.seq);
  }
  return sent;
}

describe('Outbox', { timeout: 120_000 }, () => {
  it('holds messages unnumbered until their first send, then numbers them in the order made', () => {
    const box = new Outbox(10);
    const a = box.add(build, 3);
    box.add(build, 2);
    assert.equal(a.seq, 0);
    assert.equal(a.bytes, undefined);
    assert.equal(box.lowestSeq, undefined, 'nothing numbered yet');
    const next = { seq: 5 };
    assert.deepEqual(send(box, 10, next), [5, 6]);
    assert.equal(a.seq, 5);
    assert.deepEqual(a.bytes, Uint8Array.of(5));
    assert.equal(box.lowestSeq, 5);
    assert.equal(box.get(6)?.readings, 2);
  });

  it('numbers a message once: a second number() keeps the first seq', () => {
    const box = new Outbox(10);
    const a = box.add(build, 1);
    box.number(a, 3);
    box.number(a, 9);
    assert.equal(a.seq, 3);
    assert.equal(box.get(9), undefined);
  });

  it('keeps at most `limit` messages: the oldest is dropped and counted, in flight or not', () => {
    const box = new Outbox(3);
    const next = { seq: 1 };
    box.add(build, 1);
    box.add(build, 2);
    assert.deepEqual(send(box, 1, next), [1]);
    assert.equal(box.inFlight, 1);
    box.add(build, 4);
    box.add(build, 8); // drops the first (in flight): the window frees up
    assert.equal(box.size, 3);
    assert.equal(box.droppedMessages, 1);
    assert.equal(box.droppedReadings, 1);
    assert.equal(box.inFlight, 0);
    assert.equal(box.get(1), undefined);
    box.add(build, 16); // drops the unnumbered second
    assert.equal(box.droppedMessages, 2);
    assert.equal(box.droppedReadings, 3);
    assert.deepEqual([...box.all()].map((e) => e.readings), [4, 8, 16]);
  });

  it('lets no more than `window` be in flight, and frees the window on take', () => {
    const box = new Outbox(100);
    for (let i = 0; i < 10; i++) box.add(build, 1);
    const next = { seq: 1 };
    assert.deepEqual(send(box, 4, next), [1, 2, 3, 4]);
    assert.deepEqual(send(box, 4, next), []);
    assert.equal(box.take(2)?.seq, 2);
    assert.equal(box.take(2), undefined, 'taken once');
    assert.deepEqual(send(box, 4, next), [5]);
    assert.equal(box.inFlight, 4);
    assert.equal(box.lowestSeq, 1);
    box.take(1);
    assert.equal(box.lowestSeq, 3);
  });

  it('after a reconnect sends everything again, the numbered ones first with their seqs', () => {
    const box = new Outbox(100);
    for (let i = 0; i < 5; i++) box.add(build, 1);
    const next = { seq: 1 };
    send(box, 2, next); // 1, 2 in flight; 3 more unnumbered
    box.resetInFlight();
    assert.equal(box.inFlight, 0);
    next.seq = 10; // the HELLO took seqs in between
    const again = [...box.sendable(100)] as Outgoing[];
    assert.deepEqual(again.map((e) => e.seq), [1, 2, 0, 0, 0]);
    assert.deepEqual(send(box, 100, next), [1, 2, 10, 11, 12]);
    assert.deepEqual(again.map((e) => e.sends), [2, 2, 1, 1, 1]);
  });

  it('requeues a refused message for sending again and finds what is in flight too long', () => {
    const box = new Outbox(10);
    box.add(build, 1);
    box.add(build, 1);
    const next = { seq: 1 };
    send(box, 10, next, 100);
    assert.equal(box.requeue(1), true);
    assert.equal(box.requeue(99), false);
    assert.equal(box.inFlight, 1);
    assert.deepEqual([...box.olderThan(200, 50)].map((e) => e.seq), [2], 'only what is in flight');
    assert.deepEqual(send(box, 10, next, 300), [1]);
    assert.deepEqual([...box.olderThan(320, 50)].map((e) => e.seq), [2]);
  });
});

// The device's rudp session with fake timers (node:test mock.timers; the session's clock is the
// mocked Date) and a scripted peer in the test itself: what it sends is decoded, and the ACKs it
// gets are made by hand. Covers the retransmission timer and its backoff, RTT samples, the window
// and the zero-window probe, giving up, keepalive, resynchronisation, the held control messages,
// and the rewriting of `latest` readings on a resend (PROTOCOL.md §7.4–7.9).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { DeviceEvent, Sample } from '../../src/device/events.ts';
import { KEEPALIVE_MS, RudpSession, SILENCE_MS } from '../../src/device/rudp.ts';
import { ErrorCode, Limits, decode, encode, type Message, type MessageOf, type SackRange } from '../../src/protocol/index.ts';
import { MAX_RETRANSMISSIONS, RTO_INITIAL_MS } from '../../src/transport/rudp/index.ts';

const EPOCH = 0xabc;

interface Rig {
  readonly session: RudpSession;
  readonly sent: Message[];
  readonly events: DeviceEvent[];
  readonly waiting: Sample[];
  /** Moves the fake clock on, firing due timers. */
  advance(ms: number): void;
  /** An rudp ACK from the peer. */
  ack(ackSeq: number, options?: { sack?: SackRange[]; window?: number; epoch?: number; status?: 'OK' | 'DUPLICATE' | 'RESYNC'; holdUs?: number }): void;
  /** Sent since the last call. */
  fresh(): Message[];
  /** Moves the clock to the retransmission deadline (the timer is set in whole ms). */
  toDeadline(): void;
}

let order = 0;
const sample = (sensor: number, value: number, ts = 1_000 + order): Sample => ({ sensor, ts, value: { type: 'uint16', value }, order: order++ });

function rig(t: TestContext, latest: number[] = []): Rig {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const sent: Message[] = [];
  const events: DeviceEvent[] = [];
  const waiting: Sample[] = [];
  let seen = 0;
  const session = new RudpSession({
    deviceId: 5,
    encode: (m) => encode(m, { maxMessageSize: Limits.MAX_UDP_MESSAGE }),
    send: (bytes) => {
      sent.push(decode(bytes, { maxMessageSize: Limits.MAX_UDP_MESSAGE }));
      return true;
    },
    hello: () => ({
      type: 'HELLO', deviceId: 5, session: 77, intervalMs: 1000, model: 'm', firmware: 'f',
      sensors: [1, 2, 6].map((id) => ({ id, type: 'uint16' as const, delivery: latest.includes(id) ? 'latest' as const : 'reliable' as const, unit: '', name: `s${id}` })),
    }),
    latest: new Set(latest),
    waiting: () => waiting,
    onEvent: (e) => events.push(e),
    now: () => Date.now(),
  });
  t.after(() => session.close());
  return {
    session, sent, events, waiting,
    advance: (ms) => t.mock.timers.tick(ms),
    ack: (ackSeq, o = {}) =>
      session.onAck({
        type: 'ACK', deviceId: 5, seq: 1, status: o.status ?? 'OK', ackSeq, rxTime: Date.now(), holdUs: o.holdUs ?? 0,
        rudp: { epoch: o.epoch ?? EPOCH, window: o.window ?? 64, sack: o.sack ?? [] },
      } as MessageOf<'ACK'>),
    fresh: () => sent.slice(seen, (seen = sent.length)),
    toDeadline: () => t.mock.timers.tick(Math.ceil(session.sender.deadline()! - Date.now())),
  };
}

/** Opens the session: HELLO (seq 1) sent and acknowledged after `rttMs`. */
function opened(r: Rig, rttMs = 20): void {
  r.session.start();
  r.advance(rttMs);
  r.ack(1);
  r.fresh();
}

const seqs = (ms: readonly Message[]): number[] => ms.map((m) => m.seq);

describe('rudp session with fake timers', () => {
  it('says HELLO first, RELIABLE with resume seq = its seq, and numbers nothing else until it is acknowledged', (t) => {
    const r = rig(t);
    r.session.addReadings([sample(6, 1)]);
    r.session.start();
    r.session.addReadings([sample(6, 2)]);
    const hello = r.fresh();
    assert.equal(hello.length, 1);
    assert.deepEqual(hello.map((m) => [m.type, m.seq, m.type === 'HELLO' && m.resumeSeq, m.reliable]), [['HELLO', 1, 1, true]]);
    r.ack(1);
    const after = r.fresh();
    assert.deepEqual(after.map((m) => [m.type, m.seq, m.reliable]), [['READINGS', 2, true], ['READINGS', 3, true]]);
    assert.equal(r.events.filter((e) => e.kind === 'ack' && e.what === 'HELLO').length, 1);
  });

  it(`the timer: ${RTO_INITIAL_MS} ms before any sample, doubled each time; a sample of a message sent once ends the backoff; a tail loss probe before the RTO`, (t) => {
    const r = rig(t);
    r.session.start();
    r.fresh();
    r.advance(RTO_INITIAL_MS - 1);
    assert.deepEqual(r.fresh(), [], 'not before the RTO');
    r.advance(1);
    assert.deepEqual(seqs(r.fresh()), [1], 'the HELLO again, same seq');
    r.advance(2 * RTO_INITIAL_MS - 1);
    assert.deepEqual(r.fresh(), []);
    r.advance(1);
    assert.deepEqual(seqs(r.fresh()), [1], 'backed off to 1 s');
    // Karn: the HELLO was sent three times, its ACK gives no sample; but it ends the backoff.
    r.advance(30);
    r.ack(1);
    assert.equal(r.session.sender.rto.srtt, undefined);
    assert.equal(r.session.sender.rto.rto, RTO_INITIAL_MS);
    r.session.addReadings([sample(6, 1)]);
    r.advance(40);
    r.ack(2, { holdUs: 4000 });
    // First sample R = 40 − 4 = 36 ms: SRTT 36, RTTVAR 18, RTO = 36 + 72 = 108 ms.
    assert.equal(r.session.sender.rto.srtt, 36);
    assert.equal(r.session.sender.rto.rto, 108);
    r.session.addReadings([sample(6, 2)]);
    r.fresh();
    // The tail loss probe comes first: 2·SRTT + 10 ms (the server's delayed ACK) = 82 ms.
    r.advance(81);
    assert.deepEqual(r.fresh(), []);
    r.advance(1);
    assert.deepEqual(r.fresh().map((m) => [m.type, m.seq]), [['READINGS', 3]]);
    // Then, with no ACK, the RTO (108 ms after the last progress).
    r.advance(108 - 82 - 1);
    assert.deepEqual(r.fresh(), []);
    r.advance(1);
    assert.deepEqual(r.fresh().map((m) => [m.type, m.seq]), [['READINGS', 3]]);
    const e = r.events.filter((x) => x.kind === 'retransmit');
    assert.deepEqual(e.map((x) => x.kind === 'retransmit' && [x.seq, x.reason]), [[1, 'timeout'], [1, 'timeout'], [3, 'probe'], [3, 'timeout']]);
    assert.deepEqual([r.session.counters.timeouts, r.session.counters.probes], [3, 1]);
  });

  it('the window: no seq past cumulative + window − 1 (a seq kept for a HELLO), at most 63 held; acks open it', (t) => {
    const r = rig(t);
    r.session.start();
    r.advance(10);
    r.ack(1, { window: 10 });
    r.fresh();
    for (let i = 0; i < 100; i++) r.session.addReadings([sample(6, i)]);
    assert.deepEqual(seqs(r.fresh()), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    r.ack(10, { window: 64 });
    const next = seqs(r.fresh());
    assert.equal(next.length, 63);
    assert.deepEqual([next[0], next.at(-1)], [11, 73]);
    assert.equal(r.session.sender.size, 63);
    r.ack(20, { window: 54 });
    assert.deepEqual(seqs(r.fresh()), [], '20 + 54 − 1 = 73: nothing new');
    r.ack(30, { window: 64 });
    assert.deepEqual(seqs(r.fresh()), Array.from({ length: 20 }, (_, i) => 74 + i));
  });

  it('a zero window: nothing new goes; the probe timer sends the newest unacknowledged message, the RTO the oldest', (t) => {
    const r = rig(t);
    opened(r);
    for (let i = 0; i < 4; i++) r.session.addReadings([sample(6, i)]);
    assert.deepEqual(seqs(r.fresh()), [2, 3, 4, 5]);
    r.advance(5);
    r.ack(3, { window: 0 });
    r.session.addReadings([sample(6, 9)]);
    assert.deepEqual(r.fresh(), [], 'no new seq in a zero window');
    r.toDeadline();
    assert.deepEqual(seqs(r.fresh()), [5], 'the tail loss probe');
    r.toDeadline();
    assert.deepEqual(seqs(r.fresh()), [4, 5], 'the RTO: all it holds, as zero-window probes');
    assert.deepEqual(r.events.filter((e) => e.kind === 'retransmit').map((e) => e.kind === 'retransmit' && [e.seq, e.reason]), [[5, 'probe'], [4, 'probe'], [5, 'probe']]);
    r.ack(5, { window: 64 });
    assert.deepEqual(seqs(r.fresh()), [6]);
  });

  it('fast retransmit (RACK): a message sent before one that arrived goes again once its RTT and a quarter of the smallest RTT have passed', (t) => {
    const r = rig(t);
    opened(r); // RTT 20 ms
    for (let i = 0; i < 5; i++) r.session.addReadings([sample(6, i)]);
    r.fresh();
    r.advance(10);
    // 4–6 arrived (sent at the same time as 3, after it): the newest took 10 ms; the smallest RTT is 10.
    r.ack(2, { sack: [{ first: 4, last: 6 }] });
    assert.deepEqual(seqs(r.fresh()), [], 'not before 10 + 10/4 ms');
    r.advance(2);
    assert.deepEqual(seqs(r.fresh()), []);
    r.advance(1);
    assert.deepEqual(seqs(r.fresh()), [3], 'long before the RTO (50 ms)');
    assert.equal(r.session.counters.fastRetransmits, 1);
    assert.equal(r.session.counters.timeouts, 0);
  });

  it(`gives up after ${MAX_RETRANSMISSIONS} retransmissions: GAVE_UP reported, everything kept, a new HELLO resumes at the lowest seq held`, (t) => {
    const r = rig(t);
    opened(r);
    r.session.addReadings([sample(6, 1)]);
    r.session.addReadings([sample(6, 2)]);
    r.fresh();
    // Keep the peer audible (a PONG-less ACK of nothing new), so that only the bound applies.
    for (let i = 0; i < 50 && !r.events.some((e) => e.kind === 'gave-up'); i++) {
      r.toDeadline();
      r.ack(1);
    }
    // Reported for the first message to reach the bound, sent MAX_RETRANSMISSIONS times again.
    const gaveUp = r.events.find((e) => e.kind === 'gave-up');
    assert.ok(gaveUp?.kind === 'gave-up');
    assert.deepEqual({ ...gaveUp, seq: 0 }, { kind: 'gave-up', code: ErrorCode.GAVE_UP, reason: 'retransmissions', seq: 0, held: 2 });
    const out = r.fresh();
    const resends = (seq: number): number => out.filter((m) => m.seq === seq).length;
    assert.equal(resends(gaveUp.seq), MAX_RETRANSMISSIONS, `seq ${gaveUp.seq}`);
    assert.ok(resends(2) <= MAX_RETRANSMISSIONS && resends(3) <= MAX_RETRANSMISSIONS);
    // One tail loss probe only (then the RTO alone, RFC 8985 §7.2): no probe between two RTOs.
    assert.equal(r.events.filter((e) => e.kind === 'retransmit' && e.reason === 'probe').length, 1);
    const hello = out.at(-1)!;
    assert.deepEqual([hello.type, hello.seq, hello.type === 'HELLO' && hello.resumeSeq], ['HELLO', 4, 2]);
    assert.equal(r.session.unacknowledged().readings, 2, 'kept what it held');
    // The server answers the HELLO (its seq in a range above the point): both go again, same seqs.
    r.ack(1, { sack: [{ first: 4, last: 4 }] });
    assert.deepEqual(seqs(r.fresh()), [2, 3]);
    r.ack(4);
    assert.equal(r.session.busy, false);
    assert.equal(r.session.counters.gaveUp, 1);
  });

  it(`gives up after ${SILENCE_MS / 1000} s without a word from the server, and sends the same unacknowledged HELLO again`, (t) => {
    const r = rig(t);
    r.session.start();
    for (let i = 0; i < 60 && !r.events.some((e) => e.kind === 'gave-up'); i++) r.advance(1000);
    const gaveUp = r.events.find((e) => e.kind === 'gave-up');
    assert.deepEqual(gaveUp && gaveUp.kind === 'gave-up' && [gaveUp.reason, gaveUp.seq], ['silence', 1]);
    assert.ok(Date.now() - 1_000_000 >= SILENCE_MS && Date.now() - 1_000_000 < SILENCE_MS + 1000);
    const hellos = r.fresh().filter((m) => m.type === 'HELLO');
    assert.ok(hellos.length >= 6 && hellos.every((m) => m.seq === 1), 'one HELLO, seq 1, sent again: no seq left behind');
  });

  it(`keepalive: a PING (RELIABLE, next seq) after ${KEEPALIVE_MS / 1000} s with nothing to send, held until acknowledged`, (t) => {
    const r = rig(t);
    opened(r);
    r.advance(KEEPALIVE_MS - 21);
    assert.deepEqual(r.fresh(), []);
    r.advance(1);
    const ping = r.fresh();
    assert.deepEqual(ping.map((m) => [m.type, m.seq, m.reliable]), [['PING', 2, true]]);
    r.toDeadline();
    assert.deepEqual(seqs(r.fresh()), [2], 'a lost PING is sent again: its seq must arrive');
    r.ack(2);
    r.advance(KEEPALIVE_MS);
    assert.deepEqual(r.fresh().map((m) => [m.type, m.seq]), [['PING', 3]]);
    assert.equal(r.session.counters.keepalives, 2);
  });

  it('control messages take the next seq and are held: a PONG and the ACK of a CONFIG (with the rudp fields) are sent again until acknowledged', (t) => {
    const r = rig(t);
    opened(r);
    r.session.enqueue({ type: 'PONG', deviceId: 5, pingSeq: 9 });
    r.session.enqueue({ type: 'ACK', deviceId: 5, status: 'OK', ackSeq: 12, rxTime: Date.now(), holdUs: 0 });
    const out = r.fresh();
    assert.deepEqual(out.map((m) => [m.type, m.seq]), [['PONG', 2], ['ACK', 3]]);
    const ack = out[1] as MessageOf<'ACK'>;
    assert.deepEqual(ack.rudp, { epoch: EPOCH, window: 64, sack: [] });
    r.toDeadline();
    assert.deepEqual(seqs(r.fresh()), [3], 'the tail loss probe: the newest');
    r.toDeadline();
    assert.deepEqual(seqs(r.fresh()), [2], 'the RTO: the oldest (3 went out with the probe, too recently to count as lost)');
    r.ack(3);
    assert.equal(r.session.busy, false);
  });

  it('a new epoch: HELLO with the lowest seq held, everything held again with its seq, and late ACKs of the old epoch ignored', (t) => {
    const r = rig(t);
    opened(r);
    for (let i = 0; i < 4; i++) r.session.addReadings([sample(6, i)]);
    r.fresh();
    r.ack(3, { sack: [{ first: 5, last: 5 }] });
    r.ack(3, { epoch: 0xdef });
    const resync = r.events.find((e) => e.kind === 'resync');
    assert.deepEqual(resync, { kind: 'resync', reason: 'epoch', epoch: 0xdef, resumeSeq: 4, held: 3 });
    const hello = r.fresh();
    assert.deepEqual(hello.map((m) => [m.type, m.seq, m.type === 'HELLO' && m.resumeSeq]), [['HELLO', 6, 4]]);
    r.ack(3, { epoch: EPOCH }); // a late one from the old server
    assert.deepEqual(r.fresh(), []);
    assert.equal(r.session.counters.resyncs, 1);
    r.ack(3, { epoch: 0xdef, sack: [{ first: 6, last: 6 }] });
    assert.deepEqual(seqs(r.fresh()), [4, 5], 'seq 5 too: the old ranges are no promise');
    assert.equal(r.session.epoch, 0xdef);
  });

  it('ERROR STORAGE: the message stays held and, its range void, goes again; BAD_TAG: stays held too', (t) => {
    const r = rig(t);
    opened(r);
    for (let i = 0; i < 3; i++) r.session.addReadings([sample(6, i)]);
    r.fresh();
    r.advance(5);
    r.ack(1, { sack: [{ first: 3, last: 4 }] }); // 2 missing; 3 and 4 buffered at the server
    r.session.onError(ErrorCode.STORAGE, 3); // 3's commit failed: the server forgot it
    r.session.onError(ErrorCode.BAD_TAG, 2); // a damaged copy of 2
    assert.ok(r.session.sender.get(2) && r.session.sender.get(3), 'both still held');
    r.toDeadline();
    r.toDeadline();
    const again = new Set(seqs(r.fresh()));
    assert.ok(again.has(2) && again.has(3), `2 and 3 sent again: ${[...again].join(', ')}`);
    assert.ok(!again.has(4), '4 is still covered by its range');
  });

  it('RESYNC: HELLO and everything again; a RESYNC while that HELLO is unanswered changes nothing', (t) => {
    const r = rig(t);
    opened(r);
    r.session.addReadings([sample(6, 1)]);
    r.fresh();
    r.ack(0, { status: 'RESYNC' });
    assert.deepEqual(r.fresh().map((m) => [m.type, m.seq]), [['HELLO', 3]]);
    r.ack(0, { status: 'RESYNC' });
    assert.deepEqual(r.fresh(), []);
    assert.equal(r.session.counters.resyncs, 1);
    r.ack(1, { sack: [{ first: 3, last: 3 }] });
    assert.deepEqual(seqs(r.fresh()), [2]);
  });

  it('§7.7: a resend drops the stale latest readings, takes the newest waiting sample in their place, and becomes a PING when nothing is left', (t) => {
    const r = rig(t, [1, 2]);
    opened(r);
    // RACK would find 2 and 3 lost as soon as 4 arrives; here the RTO sends them again.
    // seq 2: sensor 1 (latest), sensor 6 (reliable); seq 3: sensor 2 (latest) only; seq 4: sensor 2 again.
    r.session.addReadings([sample(1, 10), sample(6, 11)]);
    r.session.addReadings([sample(2, 20)]);
    r.session.addReadings([sample(2, 21)]);
    r.fresh();
    // Newer samples of sensor 1 wait in the device's buffer, the newest last.
    r.waiting.push(sample(1, 12), sample(1, 13));
    r.advance(5);
    r.ack(1, { sack: [{ first: 4, last: 4 }] });
    r.toDeadline();
    const resent = r.fresh();
    assert.deepEqual(resent.map((m) => [m.type, m.seq]), [['READINGS', 2], ['PING', 3]]);
    const again = resent[0] as MessageOf<'READINGS'>;
    assert.deepEqual(again.readings.map((x) => [x.sensor, x.value]), [[1, 13], [6, 11]], 'the newest waiting sample of sensor 1 in place of the stale one');
    assert.deepEqual(r.waiting.map((s) => s.value.value), [12], 'taken from the buffer');
    // seq 3's only reading (sensor 2) was superseded by seq 4, already sent: a PING with seq 3.
    assert.deepEqual([r.session.counters.superseded, r.session.counters.replaced], [2, 1]);
    r.ack(4);
    assert.deepEqual([r.session.counters.readingsAcked, r.session.busy], [3, false]);
  });
});

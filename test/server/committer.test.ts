// Group commit (src/server/committer.ts): what arrives in one turn shares one transaction,
// outcomes resolve in the order queued (also across transactions), a failing store rejects its
// whole group and the next group goes on; through the ingest server, a failed commit answers
// ERROR STORAGE and no ACK, and the resend is stored once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import { ErrorCode, encode, type Message } from '../../src/protocol/index.ts';
import { Committer } from '../../src/server/committer.ts';
import { IngestServer } from '../../src/server/ingest.ts';
import { StoreError } from '../../src/store/errors.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { CommitOutcome, ReadingsBatch, Store } from '../../src/store/types.ts';
import { createMemoryTransport } from '../../src/transport/index.ts';
import { until, within } from '../support/wait.ts';
import { DelegatingStore, allReadings } from './support.ts';

function batch(deviceId: number, seq: number): ReadingsBatch {
  return {
    deviceId, session: 1, seq, transport: 'tcp', baseTime: 1000, receivedAt: 2000,
    readings: [{ sensor: 1, delta: 0, type: 'uint8', value: seq & 0xff }],
  };
}

/** Records each commit's batches; fails the commits it is told to; can hold one commit open. */
class ScriptedStore extends DelegatingStore {
  readonly groups: number[][] = [];
  failNext = 0;
  private held: Promise<void> | undefined;
  private free: (() => void) | undefined;

  constructor() {
    super(new MemoryStore());
  }

  hold(): void {
    this.held = new Promise((resolve) => (this.free = resolve));
  }

  let(): void {
    this.free?.();
    this.held = undefined;
  }

  failSaves = 0;

  override async saveDevice(record: Parameters<Store['saveDevice']>[0]): Promise<void> {
    if (this.failSaves > 0) {
      this.failSaves--;
      throw new StoreError('STORE_WRITE', 'disk full (scripted)');
    }
    return this.inner.saveDevice(record);
  }

  override async commit(batches: readonly ReadingsBatch[]): Promise<CommitOutcome[]> {
    this.groups.push(batches.map((b) => b.seq));
    if (this.held) await this.held;
    if (this.failNext > 0) {
      this.failNext--;
      throw new StoreError('STORE_WRITE', 'disk full (scripted)');
    }
    return this.inner.commit(batches);
  }
}

describe('Committer', { timeout: 120_000 }, () => {
  it('commits what is queued in one turn in one transaction, and resolves in queue order', async () => {
    const store = new ScriptedStore();
    const committer = new Committer(store);
    const order: number[] = [];
    const outcomes = await Promise.all([1, 2, 3, 2].map((seq, i) => committer.commit(batch(7, seq)).then((o) => {
      order.push(i);
      return o;
    })));
    assert.deepEqual(store.groups, [[1, 2, 3, 2]]);
    assert.deepEqual(outcomes, ['stored', 'stored', 'stored', 'duplicate']);
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal(committer.transactions, 1);
    assert.equal(committer.messages, 4);
  });

  it('queues what arrives during a commit for the next transaction, and resolves those after the first', async () => {
    const store = new ScriptedStore();
    const committer = new Committer(store);
    const order: number[] = [];
    const track = (seq: number): Promise<CommitOutcome> => committer.commit(batch(7, seq)).then((o) => {
      order.push(seq);
      return o;
    });
    store.hold();
    const first = [track(1), track(2)];
    await until(() => store.groups.length === 1, 'the first commit to start');
    const second = [track(3), track(4), track(1)];
    store.let();
    assert.deepEqual(await Promise.all([...first, ...second]), ['stored', 'stored', 'stored', 'stored', 'duplicate']);
    assert.deepEqual(store.groups, [[1, 2], [3, 4, 1]]);
    assert.deepEqual(order, [1, 2, 3, 4, 1]);
    await committer.drain();
    assert.equal(committer.queued, 0);
  });

  it('splits a long queue into groups of at most maxBatch, in order', async () => {
    const store = new ScriptedStore();
    const committer = new Committer(store, 2);
    await Promise.all([1, 2, 3, 4, 5].map((seq) => committer.commit(batch(7, seq))));
    assert.deepEqual(store.groups, [[1, 2], [3, 4], [5]]);
    assert.equal(committer.transactions, 3);
  });

  it('while 16 to 256 are queued, commits half of them, and answers those before the next commit', async () => {
    const store = new ScriptedStore();
    const committer = new Committer(store);
    const answered: number[] = [];
    const groupsWhenAnswered: number[] = [];
    const seqs = Array.from({ length: 40 }, (_, i) => i + 1);
    await Promise.all(seqs.map((seq) => committer.commit(batch(7, seq)).then(() => {
      answered.push(seq);
      groupsWhenAnswered.push(store.groups.length);
    })));
    // 40 queued: 20 go; 20 left: 10 go; 10 left: fewer than 16, all go.
    assert.deepEqual(store.groups, [seqs.slice(0, 20), seqs.slice(20, 30), seqs.slice(30)]);
    assert.deepEqual(answered, seqs);
    assert.deepEqual(groupsWhenAnswered, [...Array(20).fill(1), ...Array(10).fill(2), ...Array(10).fill(3)]);
    // Fewer than 16 (and more than 256) stay one transaction.
    const few = new ScriptedStore();
    const one = new Committer(few);
    await Promise.all(seqs.slice(0, 15).map((seq) => one.commit(batch(7, seq))));
    const many = new ScriptedStore();
    const big = new Committer(many);
    await Promise.all(Array.from({ length: 300 }, (_, i) => big.commit(batch(7, i + 1))));
    assert.deepEqual([few.groups.length, many.groups.length], [1, 1]);
  });

  it('rejects every batch of a group whose commit fails, stores none of it, and goes on with the next group', async () => {
    const store = new ScriptedStore();
    const committer = new Committer(store);
    store.hold();
    store.failNext = 1;
    const failed = [committer.commit(batch(7, 1)), committer.commit(batch(8, 1))];
    await until(() => store.groups.length === 1, 'the first commit to start');
    const next = committer.commit(batch(7, 2));
    store.let();
    for (const p of failed) await assert.rejects(p, (e: unknown) => e instanceof StoreError && e.code === 'STORE_WRITE');
    assert.equal(await next, 'stored');
    assert.deepEqual((await allReadings(store)).map((r) => `${r.device}/${r.seq}`), ['7/2']);
    assert.equal(committer.transactions, 1, 'only the transaction that committed is counted');
    // A later resend of the failed ones is stored, not a duplicate.
    assert.deepEqual(await Promise.all([committer.commit(batch(7, 1)), committer.commit(batch(8, 1))]), ['stored', 'stored']);
  });
});

describe('ingest with a failing store', { timeout: 120_000 }, () => {
  it('answers a HELLO it could not record with ERROR STORAGE, and the next HELLO with ACK', async (t) => {
    const store = new ScriptedStore();
    store.failSaves = 1;
    const ingest = new IngestServer({ store: store as Store, log: silentLogger() });
    const transport = createMemoryTransport();
    const listener = await transport.listen({ port: 0 }, ingest.handler);
    t.after(() => listener.close());
    const got: Message[] = [];
    const link = await transport.connect({ host: 'memory', port: listener.port }, { frame: (_l, f) => void (f.ok && got.push(f.message)) });
    t.after(() => link.close());
    for (const seq of [1, 2]) {
      link.send(encode({
        type: 'HELLO', deviceId: 3, seq, session: 1, resumeSeq: seq, intervalMs: 1000, model: '', firmware: '',
        sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: '' }],
      }));
    }
    await until(() => got.length === 2, 'two answers');
    const [first, second] = got;
    assert.ok(first?.type === 'ERROR' && first.code === ErrorCode.STORAGE && first.refSeq === 1, JSON.stringify(first));
    assert.ok(second?.type === 'ACK' && second.ackSeq === 2 && second.status === 'OK');
    assert.equal((await store.loadDevice(3))?.highestSeq, 2);
  });

  it('answers ERROR STORAGE and no ACK for every READINGS of the failed group; their resend is stored once', async (t) => {
    const store = new ScriptedStore();
    const ingest = new IngestServer({ store: store as Store, log: silentLogger() });
    const transport = createMemoryTransport();
    const listener = await transport.listen({ port: 0 }, ingest.handler);
    t.after(() => listener.close());
    const got: Message[] = [];
    const link = await transport.connect({ host: 'memory', port: listener.port }, { frame: (_l, f) => void (f.ok && got.push(f.message)) });
    t.after(() => link.close());
    const send = (m: Message): void => void link.send(encode(m));
    const readings = (seq: number): Message => ({ type: 'READINGS', deviceId: 3, seq, baseTime: 1000, readings: [{ sensor: 1, delta: 0, type: 'uint8', value: seq }] });
    const answered = (seq: number): Message[] => got.filter((m) => (m.type === 'ACK' && m.ackSeq === seq) || (m.type === 'ERROR' && m.refSeq === seq));

    send({
      type: 'HELLO', deviceId: 3, seq: 1, session: 1, resumeSeq: 1, intervalMs: 1000, model: '', firmware: '',
      sensors: [{ id: 1, type: 'uint8', delivery: 'reliable', unit: '', name: '' }],
    });
    await until(() => answered(1).length === 1, 'the HELLO ACK');
    store.failNext = 1;
    send(readings(2));
    send(readings(3));
    await until(() => answered(2).length === 1 && answered(3).length === 1, 'answers to READINGS 2 and 3');
    assert.deepEqual(store.groups, [[2, 3]], 'one group');
    for (const seq of [2, 3]) {
      const [reply] = answered(seq);
      assert.ok(reply?.type === 'ERROR' && reply.code === ErrorCode.STORAGE, `READINGS ${seq} answered ${reply?.type}`);
    }
    assert.deepEqual(await allReadings(store), []);
    // The connection stays open; the resend goes through.
    send(readings(2));
    send(readings(3));
    await until(() => answered(2).length === 2 && answered(3).length === 2, 'answers to the resend');
    for (const seq of [2, 3]) assert.equal(answered(seq)[1]?.type, 'ACK');
    const acks = got.filter((m) => m.type === 'ACK' && m.ackSeq > 1);
    assert.deepEqual(acks.map((m) => (m.type === 'ACK' ? [m.ackSeq, m.status] : [])), [[2, 'OK'], [3, 'OK']]);
    assert.deepEqual((await allReadings(store)).map((r) => r.seq), [2, 3]);
    await within(ingest.drain(), 'the ingest to drain');
    assert.equal(ingest.stats.tcp.refused, 2);
    assert.equal(ingest.stats.tcp.readingsStored, 2);
  });
});

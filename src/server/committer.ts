// Group commit: READINGS from every link that arrive within one turn of the event loop are
// committed in one storage transaction, then each caller learns its outcome. Outcomes are given
// in the order the batches were queued, so a link's ACKs leave in the order of its messages.
//
// While 16 to 256 messages are queued, half of them are committed, then a turn of the event loop
// passes before the rest: the first half's ACKs leave while the rest commits, so a device with a
// window of messages in flight has work again sooner (one device, batches of 1: about 20% more
// messages a second in `npm run bench`). More queued means the server is the bottleneck: they
// are committed whole, as a transaction costs about as much as 10 inserts.
//
// Two ways in: commit() returns a promise per batch; enqueue() calls a function instead, which
// spares the hot path a promise (and its reaction job) per message. The function is given the
// batch back, so one function can serve every batch (the batch may carry what it needs).
import type { CommitOutcome, ReadingsBatch, Store } from '../store/types.ts';

/**
 * Called once per queued batch: with its outcome, or with the error that failed its group. It
 * should not throw; if it does, the error is rethrown from a microtask (an uncaught exception, as
 * for an event listener) and the other batches still get their outcomes.
 */
export type CommitDone<B extends ReadingsBatch = ReadingsBatch> = (outcome: CommitOutcome | undefined, error: unknown, batch: B) => void;

function call<B extends ReadingsBatch>(done: CommitDone<B>, outcome: CommitOutcome | undefined, error: unknown, batch: B): void {
  try {
    done(outcome, error, batch);
  } catch (bug) {
    queueMicrotask(() => {
      throw bug;
    });
  }
}

/** With this many messages queued and more, half of them are committed… */
const SPLIT_FROM = 16;
/** …up to this many. */
const SPLIT_UP_TO = 256;

export class Committer {
  private readonly store: Store;
  private readonly maxBatch: number;
  private batches: ReadingsBatch[] = [];
  // Each callback is only ever called with the batch it was queued with.
  private callbacks: CommitDone<any>[] = [];
  private running: Promise<void> | undefined;
  /** Transactions and messages committed so far. */
  transactions = 0;
  messages = 0;

  constructor(store: Store, maxBatch = 4096) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /** Queues a batch; `done` runs once its transaction has committed or failed. */
  enqueue<B extends ReadingsBatch>(batch: B, done: CommitDone<B>): void {
    this.batches.push(batch);
    this.callbacks.push(done);
    this.running ??= this.run();
  }

  /** Queues a batch; resolves once its transaction has committed. */
  commit(batch: ReadingsBatch): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.enqueue(batch, (outcome, error) => (outcome === undefined ? reject(error) : resolve(outcome)));
    });
  }

  /** Resolves when everything queued so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  get queued(): number {
    return this.batches.length;
  }

  private async run(): Promise<void> {
    // Let the current turn's frames join this transaction.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.batches.length > 0) {
      const queued = this.batches.length;
      const take = Math.min(queued >= SPLIT_FROM && queued <= SPLIT_UP_TO ? Math.ceil(queued / 2) : queued, this.maxBatch);
      let group = this.batches;
      let done = this.callbacks;
      if (take < queued) {
        group = this.batches.splice(0, take);
        done = this.callbacks.splice(0, take);
      } else {
        this.batches = [];
        this.callbacks = [];
      }
      let outcomes: CommitOutcome[] | undefined;
      try {
        outcomes = await this.store.commit(group);
      } catch (error) {
        for (let i = 0; i < done.length; i++) call(done[i]!, undefined, error, group[i]!);
      }
      if (outcomes !== undefined) {
        this.transactions++;
        this.messages += group.length;
        for (let i = 0; i < done.length; i++) call(done[i]!, outcomes[i] ?? 'stored', undefined, group[i]!);
      }
      // A turn of the event loop before the rest: the answers just given are written (links write
      // on the next tick), and what arrived meanwhile joins the next transaction.
      if (take < queued) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.running = undefined;
  }
}

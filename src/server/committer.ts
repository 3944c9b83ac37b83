// Group commit: READINGS from every link that arrive within one turn of the event loop are
// committed in one storage transaction, then each caller learns its outcome. Outcomes are given
// in the order the batches were queued, so a link's ACKs leave in the order of its messages.
//
// Two ways in: commit() returns a promise per batch; enqueue() calls a function instead, which
// spares the hot path a promise (and its reaction job) per message.
import type { CommitOutcome, ReadingsBatch, Store } from '../store/types.ts';

/**
 * Called once per queued batch: with its outcome, or with the error that failed its group. It
 * should not throw; if it does, the error is rethrown from a microtask (an uncaught exception, as
 * for an event listener) and the other batches still get their outcomes.
 */
export type CommitDone = (outcome: CommitOutcome | undefined, error?: unknown) => void;

function call(done: CommitDone, outcome: CommitOutcome | undefined, error?: unknown): void {
  try {
    done(outcome, error);
  } catch (bug) {
    queueMicrotask(() => {
      throw bug;
    });
  }
}

export class Committer {
  private readonly store: Store;
  private readonly maxBatch: number;
  private batches: ReadingsBatch[] = [];
  private callbacks: CommitDone[] = [];
  private running: Promise<void> | undefined;
  /** Transactions and messages committed so far. */
  transactions = 0;
  messages = 0;

  constructor(store: Store, maxBatch = 4096) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /** Queues a batch; `done` runs once its transaction has committed or failed. */
  enqueue(batch: ReadingsBatch, done: CommitDone): void {
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
      let group = this.batches;
      let done = this.callbacks;
      if (group.length > this.maxBatch) {
        group = this.batches.splice(0, this.maxBatch);
        done = this.callbacks.splice(0, this.maxBatch);
      } else {
        this.batches = [];
        this.callbacks = [];
      }
      let outcomes: CommitOutcome[];
      try {
        outcomes = await this.store.commit(group);
      } catch (error) {
        for (const d of done) call(d, undefined, error);
        continue;
      }
      this.transactions++;
      this.messages += group.length;
      for (let i = 0; i < done.length; i++) call(done[i]!, outcomes[i] ?? 'stored');
    }
    this.running = undefined;
  }
}

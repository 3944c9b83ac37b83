// Group commit: READINGS from every link that arrive within one turn of the event loop are
// committed in one storage transaction, then each caller learns its outcome. Outcomes resolve
// in the order the batches were queued, so a link's ACKs leave in the order of its messages.
import type { CommitOutcome, ReadingsBatch, Store } from '../store/types.ts';

interface Pending {
  readonly batch: ReadingsBatch;
  readonly resolve: (outcome: CommitOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class Committer {
  private readonly store: Store;
  private readonly maxBatch: number;
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  /** Transactions and messages committed so far. */
  transactions = 0;
  messages = 0;

  constructor(store: Store, maxBatch = 4096) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /** Queues a batch; resolves once its transaction has committed. */
  commit(batch: ReadingsBatch): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** Resolves when everything queued so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  get queued(): number {
    return this.queue.length;
  }

  private async run(): Promise<void> {
    // Let the current turn's frames join this transaction.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxBatch);
      try {
        const outcomes = await this.store.commit(group.map((p) => p.batch));
        this.transactions++;
        this.messages += group.length;
        group.forEach((p, i) => p.resolve(outcomes[i] ?? 'stored'));
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    this.running = undefined;
  }
}

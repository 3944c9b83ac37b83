// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit that
// takes the WAL past 1000 pages, on the thread that commits: the server's event loop stalled for
// tens of milliseconds each time. The server's write connection turns it off, and a worker thread
// with a connection of its own checkpoints instead:
//   - every `intervalMs`, a PASSIVE checkpoint: it copies the WAL's pages into the database file
//     without taking any lock a commit needs, so the server goes on committing meanwhile;
//   - a WAL only starts again from its beginning when a commit finds every page of it copied,
//     which a checkpoint running beside steady commits seldom leaves. Past `maxWalFrames` the
//     worker runs a RESTART checkpoint, which holds the write lock for the few pages the PASSIVE
//     one left (a commit waits for it, a few ms) and makes the next commit start the WAL over.
//     So the WAL file stays under about `maxWalFrames` pages plus one interval's worth.
// The worker is plain JavaScript evaluated from a string, so it needs no TypeScript loader.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface CheckpointerOptions {
  /** Time between two PASSIVE checkpoints, ms. Default 200. */
  readonly intervalMs?: number;
  /** WAL pages beyond which the worker starts the WAL over (RESTART). Default 4096 (16 MiB of 4 KiB pages). */
  readonly maxWalFrames?: number;
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 200;
export const DEFAULT_MAX_WAL_FRAMES = 4096;

/** What one checkpoint did, as PRAGMA wal_checkpoint reports it. */
export interface CheckpointResult {
  readonly mode: 'PASSIVE' | 'RESTART';
  /** The checkpoint could not finish (RESTART: the write lock or a reader was in the way). */
  readonly busy: boolean;
  /** Pages in the WAL, and how many of them are now in the database file. */
  readonly log: number;
  readonly checkpointed: number;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
db.pragma('wal_autocheckpoint = 0');
const pause = new Int32Array(new SharedArrayBuffer(4));
let timer;
function run(mode) {
  const row = db.pragma('wal_checkpoint(' + mode + ')')[0];
  const result = { mode, busy: row.busy !== 0, log: row.log, checkpointed: row.checkpointed };
  parentPort.postMessage(result);
  return result;
}
function tick() {
  timer = undefined;
  try {
    const passive = run('PASSIVE');
    // The write lock is free most of the time between commits: a few tries, a ms apart.
    if (passive.log > workerData.maxWalFrames) {
      for (let i = 0; i < 20 && run('RESTART').busy; i++) Atomics.wait(pause, 0, 0, 1);
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
  timer = setTimeout(tick, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearTimeout(timer);
    db.close();
    parentPort.close();
  }
});
timer = setTimeout(tick, workerData.intervalMs);
`;

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #stopping = false;
  /** Checkpoints done so far, RESTARTs among them that went through, and the latest one. */
  checkpoints = 0;
  restarts = 0;
  last: CheckpointResult | undefined;

  /**
   * Starts the worker on the database at `path`. `onFailure` runs once if the worker dies or its
   * checkpoints fail (the caller should turn SQLite's automatic checkpoint back on).
   */
  constructor(path: string, options: CheckpointerOptions, onFailure: (error: Error) => void) {
    this.#worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        path,
        driver,
        intervalMs: options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
        maxWalFrames: options.maxWalFrames ?? DEFAULT_MAX_WAL_FRAMES,
      },
    });
    let failed = false;
    const fail = (error: Error): void => {
      if (failed || this.#stopping) return;
      failed = true;
      onFailure(error);
      // Asked to stop rather than terminated: terminate() that lands inside a better-sqlite3 call
      // can abort the whole process (seen: FATAL ERROR v8::ToLocalChecked Empty MaybeLocal).
      this.#worker.postMessage('stop');
    };
    this.#worker.on('message', (m: CheckpointResult | { error: string }) => {
      if ('error' in m) return fail(new Error(`WAL checkpoint failed: ${m.error}`));
      this.checkpoints++;
      if (m.mode === 'RESTART' && !m.busy) this.restarts++;
      this.last = m;
    });
    this.#worker.on('error', fail);
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        if (!this.#stopping) fail(new Error(`the WAL checkpoint worker exited (code ${code})`));
        resolve();
      });
    });
    // A store left open must not keep the process alive. (After the listeners: adding a 'message'
    // listener refs the worker's port again.)
    this.#worker.unref();
  }

  /** Stops the worker after the checkpoint under way, and closes its connection. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#worker.postMessage('stop');
    }
    const timer = setTimeout(() => void this.#worker.terminate(), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

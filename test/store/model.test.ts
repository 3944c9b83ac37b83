// The SQLite store checked against the memory store as a model (property): any sequence of
// commits, with duplicates within a call and across calls, out-of-order and late seqs, the same
// seq in other sessions, mixed transports and packed or decoded readings, gives the same outcomes
// from every commit and the same readings, totals and devices afterwards; reopening the file
// between commits changes nothing, and neither does reading past the SQLite store's pages.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Reading } from '../../src/protocol/index.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { MAX_RUN } from '../../src/store/runs.ts';
import type { ReadingsBatch, Store, TransportName } from '../../src/store/types.ts';
import { batch, collect, device, floats, packed } from './compliance.ts';

/** For fc.oneof: shrink towards its first choice (the simpler one, or null) as well as within the one drawn. */
const CROSS = { withCrossShrink: true } as const;

/** batch()'s base time for seq 0: base times here are this plus an offset. */
const BASE = batch(0, 0, 0, []).baseTime;

/** One reading of a few value types, edges included (NaN, -0, large integers, unicode). */
const reading: fc.Arbitrary<Reading> = fc
  .tuple(
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: -20, max: 50 }),
    fc.oneof(
      CROSS,
      fc.record({ type: fc.constant('float32' as const), value: fc.oneof(CROSS, fc.constantFrom(0, -0, NaN, Infinity, 0.1, 21.5), fc.double()) }),
      fc.record({ type: fc.constant('float64' as const), value: fc.double() }),
      fc.record({ type: fc.constant('bool' as const), value: fc.boolean() }),
      fc.record({ type: fc.constant('int16' as const), value: fc.integer({ min: -32768, max: 32767 }) }),
      fc.record({ type: fc.constant('uint32' as const), value: fc.integer({ min: 0, max: 0xffff_ffff }) }),
      fc.record({ type: fc.constant('int64' as const), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
      fc.record({ type: fc.constant('uint64' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ type: fc.constant('timestamp' as const), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
      fc.record({ type: fc.constant('string' as const), value: fc.string({ unit: 'grapheme', maxLength: 6 }) }),
      fc.record({ type: fc.constant('bytes' as const), value: fc.uint8Array({ maxLength: 6 }) }),
      fc.record({
        type: fc.constant('geo' as const),
        value: fc.record({ lat: fc.double({ min: -90, max: 90, noNaN: true }), lon: fc.double({ min: -180, max: 180, noNaN: true }) }),
      }),
    ),
  )
  .map(([sensor, delta, value]): Reading => ({ sensor, delta, ...value }));

/** 0–3 readings: floats(n) as most tests use, or varied ones. */
const readings: fc.Arbitrary<Reading[]> = fc.oneof(CROSS, fc.integer({ min: 0, max: 3 }).map(floats), fc.array(reading, { maxLength: 3 }));

/**
 * One batch, its device and session as indexes into the scenario's lists. `repeat`, when set and
 * some batch came before (in this call or an earlier one), takes that earlier batch's
 * (device, session, seq) instead, with this batch's own content: a duplicate.
 */
interface BatchSpec {
  readonly device: number;
  readonly session: number;
  readonly seq: number;
  readonly repeat: number | null;
  readonly transport: TransportName;
  /** Base time, ms after BASE: whole seconds, so that several batches share one. */
  readonly offset: number;
  readonly readings: readonly Reading[];
  readonly packed: boolean;
}

const batchSpec: fc.Arbitrary<BatchSpec> = fc.record({
  device: fc.nat(3),
  session: fc.nat(2),
  // Mostly low seqs, so that other sessions and devices reuse them and gaps get filled.
  seq: fc.oneof(CROSS, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 40 })),
  // One batch in three repeats an earlier one's key.
  repeat: fc.oneof(CROSS, { arbitrary: fc.constant(null), weight: 2 }, { arbitrary: fc.nat(), weight: 1 }),
  transport: fc.constantFrom<TransportName>('tcp', 'udp', 'rudp'),
  offset: fc.integer({ min: 0, max: 10 }).map((k) => k * 1000),
  readings,
  packed: fc.boolean(),
});

/**
 * How the SQLite file is opened: as the server opens it, with the worker thread that checkpoints
 * the WAL, or without (SQLite checkpoints inside commits). Starting and stopping the worker costs
 * about 65 ms, most of this test's time were every open to use it.
 */
type OpenMode = 'checkpoint worker' | 'no worker';

const openMode: fc.Arbitrary<OpenMode> = fc.oneof(
  CROSS,
  { arbitrary: fc.constant('no worker' as const), weight: 3 },
  { arbitrary: fc.constant('checkpoint worker' as const), weight: 1 },
);

function open(path: string, mode: OpenMode): Store {
  return openSqliteStore(path, mode === 'no worker' ? { checkpointWorker: false } : {});
}

interface Step {
  /** Close the SQLite store and open the file again (this way) before this commit. */
  readonly reopen: OpenMode | null;
  readonly batches: readonly BatchSpec[];
}

const step: fc.Arbitrary<Step> = fc.record({
  // About one commit in four reopens the file first (shrinks towards not reopening).
  reopen: fc.oneof(CROSS, { arbitrary: fc.constant(null), weight: 3 }, { arbitrary: openMode, weight: 1 }),
  batches: fc.array(batchSpec, { minLength: 1, maxLength: 8 }),
});

/**
 * Sometimes one call of more batches as well: seqs 1 to `count` of one device and session,
 * overlapping the other calls' seqs. The SQLite store keeps at most MAX_RUN messages in a run,
 * so this makes several runs, and the other calls' seqs then fall inside them.
 */
interface Bulk {
  /** Committed before this step (modulo the number of steps + 1: last is possible). */
  readonly before: number;
  readonly device: number;
  readonly session: number;
  readonly count: number;
}

const bulk: fc.Arbitrary<Bulk | null> = fc.oneof(
  CROSS,
  { arbitrary: fc.constant(null), weight: 4 },
  { arbitrary: fc.record({ before: fc.nat(), device: fc.nat(3), session: fc.nat(2), count: fc.integer({ min: MAX_RUN - 20, max: MAX_RUN + 80 }) }), weight: 1 },
);

const scenario = fc.record({
  open: openMode,
  devices: fc.uniqueArray(fc.oneof(CROSS, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 0xffff_ffff })), { minLength: 1, maxLength: 4 }),
  sessions: fc.uniqueArray(fc.oneof(CROSS, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 0xffff_ffff })), { minLength: 1, maxLength: 3 }),
  steps: fc.array(step, { minLength: 1, maxLength: 8 }),
  bulk,
  /**
   * The `since` of the queries: `shift` ms after the base time `second` s after BASE, among the
   * batches' base times and within the span of their readings' deltas, so that it falls between
   * messages and inside some. Drawn rather than taken from the batches (their middle base time,
   * say) so that it stays put as shrinking drops batches: a counterexample shrinks well.
   */
  since: fc.record({ second: fc.integer({ min: 0, max: 10 }), shift: fc.integer({ min: -20, max: 50 }) }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** One commit() call. */
interface Call {
  readonly reopen: OpenMode | null;
  readonly batches: readonly ReadingsBatch[];
}

type Key = readonly [device: number, session: number, seq: number];

const TRANSPORTS: readonly TransportName[] = ['tcp', 'udp', 'rudp'];

/** The calls of a scenario: repeats resolved to the (device, session, seq) they repeat, the bulk call in its place. */
function resolve(s: Scenario): Call[] {
  const pick = (d: number, session: number): [number, number] => [s.devices[d % s.devices.length]!, s.sessions[session % s.sessions.length]!];
  const keys: Key[] = [];
  const calls: Call[] = s.steps.map((step) => ({
    reopen: step.reopen,
    batches: step.batches.map((b) => {
      const earlier = b.repeat !== null && keys.length > 0 ? keys[b.repeat % keys.length] : undefined;
      const key: Key = earlier ?? [...pick(b.device, b.session), b.seq];
      keys.push(key);
      const decoded = batch(key[0], key[1], key[2], b.readings, { transport: b.transport, baseTime: BASE + b.offset });
      return b.packed ? packed(decoded) : decoded;
    }),
  }));
  if (s.bulk !== null) {
    const [d, session] = pick(s.bulk.device, s.bulk.session);
    const batches = Array.from({ length: s.bulk.count }, (_, i) => {
      const seq = i + 1;
      const decoded = batch(d, session, seq, floats(seq % 4), { transport: TRANSPORTS[seq % 3]!, baseTime: BASE + seq * 100 });
      return seq % 2 === 0 ? packed(decoded) : decoded;
    });
    calls.splice(s.bulk.before % (calls.length + 1), 0, { reopen: null, batches });
  }
  return calls;
}

/**
 * Runs a scenario on a new SQLite file in `runDir` (created, and removed afterwards) and on a
 * memory store, and asserts that they agree throughout.
 */
async function agree(runDir: string, s: Scenario): Promise<void> {
  const calls = resolve(s);
  const path = join(runDir, 'store.db');
  const model: Store = new MemoryStore();
  let sqlite: Store | undefined;
  try {
    mkdirSync(runDir);
    sqlite = open(path, s.open);

    // Each device's HELLO, once, in the session it last uses (or its first, if unused).
    const last = new Map<number, ReadingsBatch>();
    const all = calls.flatMap((c) => c.batches);
    for (const b of all) last.set(b.deviceId, b);
    for (const d of s.devices) {
      const record = device(d, { session: last.get(d)?.session ?? s.sessions[0]!, transport: last.get(d)?.transport ?? 'tcp', highestSeq: 0 });
      await sqlite.saveDevice(record);
      await model.saveDevice(record);
    }

    const seen = new Set<string>();
    for (const [i, { reopen, batches }] of calls.entries()) {
      if (reopen !== null) {
        await sqlite.close();
        sqlite = open(path, reopen);
      }
      const got = await sqlite.commit(batches);
      const want = await model.commit(batches);
      assert.deepStrictEqual(got, want, `outcomes of commit ${i}`);
      // And what the model says is right: the first of each (device, session, seq) is stored.
      const first = batches.map((b) => {
        const key = `${b.deviceId}/${b.session}/${b.seq}`;
        const fresh = !seen.has(key);
        seen.add(key);
        return fresh ? 'stored' : 'duplicate';
      });
      assert.deepStrictEqual(want, first, `model's outcomes of commit ${i}`);
    }

    assert.deepStrictEqual(await collect(sqlite), await collect(model), 'all readings');
    const since = BASE + s.since.second * 1000 + s.since.shift;
    assert.deepStrictEqual(await collect(sqlite, { since }), await collect(model, { since }), `readings since ${since}`);
    for (const d of s.devices) {
      assert.deepStrictEqual(await collect(sqlite, { device: d }), await collect(model, { device: d }), `readings of device ${d}`);
      assert.deepStrictEqual(
        await collect(sqlite, { device: d, since, limit: 5 }), await collect(model, { device: d, since, limit: 5 }),
        `readings of device ${d} since ${since}, limit 5`,
      );
      const loaded = await sqlite.loadDevice(d);
      assert.deepStrictEqual(loaded, await model.loadDevice(d), `device ${d}`);
      // The highest seq is that of what was committed in the device's session.
      const session = loaded?.session;
      const highest = Math.max(0, ...all.filter((b) => b.deviceId === d && b.session === session).map((b) => b.seq));
      assert.equal(loaded?.highestSeq, highest, `highest seq of device ${d}`);
    }
    assert.deepStrictEqual(await sqlite.totals(), await model.totals(), 'totals');
  } finally {
    await sqlite?.close();
    await model.close();
    rmSync(runDir, { recursive: true, force: true });
  }
}

describe('sqlite store against the memory store (model)', () => {
  it('commits, reads, counts and loads devices as the memory store does, across reopening', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sensorwire-model-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    let run = 0;
    // A run that the time limit below interrupts goes on in the background: wait for it (and its
    // cleanup) before the directory is removed.
    let running: Promise<unknown> = Promise.resolve();
    try {
      await fc.assert(
        fc.asyncProperty(scenario, (s) => {
          const done = agree(join(dir, String(run++)), s);
          running = done.catch(() => {});
          return done;
        }),
        // Shrinking a failure can take minutes (every candidate opens a file): past the limit, the
        // smallest counterexample found so far is reported. A machine so slow that it reaches the
        // limit before any failure merely does fewer runs.
        { numRuns: 100, interruptAfterTimeLimit: 30_000, includeErrorInReport: true },
      );
    } finally {
      await running;
    }
  });
});

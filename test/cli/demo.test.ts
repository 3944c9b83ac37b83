// The demo as a newcomer runs it: the real `npm start -- --duration 3s --db <temp>` from the repo
// root. It exits 0, prints a live line a second, the CONFIG that device 1 (its battery starts just
// above the threshold) receives, and a table of stored totals that agrees with the database. And
// Ctrl-C in the middle: the totals still, exit 0.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { Cli, sensorwire, tempDir } from '../support/cli.ts';

interface Counted {
  transport: string;
  messages: Set<string>;
  readings: number;
}

/** Messages and readings stored per device, counted from the readings themselves. */
async function countStored(db: string): Promise<Map<number, Counted>> {
  const store = openSqliteStore(db, { readonly: true });
  try {
    const counts = new Map<number, Counted>();
    for await (const r of store.readings()) {
      const c = counts.get(r.device) ?? { transport: r.transport, messages: new Set<string>(), readings: 0 };
      assert.equal(c.transport, r.transport, `device ${r.device} used one transport`);
      c.messages.add(`${r.session}/${r.seq}`);
      c.readings++;
      counts.set(r.device, c);
    }
    return counts;
  } finally {
    await store.close();
  }
}

describe('sensorwire demo (what npm start runs)', () => {
  it('runs for --duration, shows live lines and the CONFIG, and prints totals that agree with the database', async (t) => {
    const db = join(tempDir(t), 'demo.db');
    const npm = new Cli('npm start', 'npm', ['start', '--', '--duration', '3s', '--db', db], { env: { CI: 'true' }, group: true });
    t.after(() => npm.kill());
    const out = await npm.finished(30_000);
    assert.deepEqual([out.code, out.signal], [0, null], npm.describe());
    const lines = out.stdout.split('\n');

    // A live line every second, the counts only growing.
    const live = lines.map((l) => /^\[\s*(\d+) s\] stored (\d+) readings \(tcp (\d+), udp (\d+)\)/.exec(l)).filter((m) => m !== null);
    assert.ok(live.length >= 2, npm.describe());
    assert.deepEqual(live.slice(0, 2).map((m) => Number(m[1])), [1, 2]);
    for (const m of live) assert.equal(Number(m[2]), Number(m[3]) + Number(m[4]));
    for (let i = 1; i < live.length; i++) assert.ok(Number(live[i]![2]) >= Number(live[i - 1]![2]), 'stored only grows');

    // Device 1 starts with a nearly flat battery: the server tells it to slow down, once.
    const configs = lines.filter((l) => /^\s+device \d+: config #\d+ applied/.test(l));
    assert.equal(configs.length, 1, npm.describe());
    assert.match(configs[0]!, /^\s+device 1: config #1 applied: /);

    // The table of stored totals, then the total line.
    const start = lines.findIndex((l) => /^device\s+transport\s+messages\s+readings\s/.test(l));
    assert.ok(start > 0, npm.describe());
    assert.match(lines[start + 1] ?? '', /^-+(\s+-+)+$/);
    const end = lines.indexOf('', start);
    const rows = lines.slice(start + 2, end).map((l) => l.trim().split(/\s+/));
    assert.deepEqual(rows.map((r) => [Number(r[0]), r[1]]), [[1, 'tcp'], [2, 'udp'], [3, 'tcp'], [4, 'udp'], [5, 'tcp'], [6, 'udp']]);
    const total = lines.map((l) => /^total: (\d+) readings stored \(tcp (\d+), udp (\d+)\)/.exec(l)).find((m) => m !== null);
    assert.ok(total, npm.describe());

    const stored = await countStored(db);
    assert.deepEqual([...stored.keys()].sort(), [1, 2, 3, 4, 5, 6]);
    for (const [device, transport, messages, readings, sent, acknowledged, unacknowledged] of rows) {
      const c = stored.get(Number(device))!;
      assert.deepEqual([transport, Number(messages), Number(readings)], [c.transport, c.messages.size, c.readings], `device ${device}`);
      assert.equal(Number(acknowledged), c.readings, `device ${device}: acknowledged is what was stored`);
      assert.equal(Number(acknowledged) + Number(unacknowledged), Number(sent), `device ${device}`);
    }
    const sum = (transport: string): number => [...stored.values()].filter((c) => c.transport === transport).reduce((n, c) => n + c.readings, 0);
    assert.deepEqual(total.slice(1).map(Number), [sum('tcp') + sum('udp'), sum('tcp'), sum('udp')]);
    // Told to sample every 2 s instead of every 0.5 s, device 1 stored less than the others.
    assert.ok(stored.get(1)!.readings < stored.get(2)!.readings, 'the CONFIG slowed device 1 down');
  });

  it('on Ctrl-C stops early, still printing the stored totals, and exits 0', async (t) => {
    const db = join(tempDir(t), 'interrupted.db');
    const demo = sensorwire(t, ['demo', '--duration', '60s', '--db', db]);
    await demo.line(/^\[\s*1 s\] stored \d+ readings/);
    demo.signal('SIGINT');
    const out = await demo.finished();
    assert.deepEqual([out.code, out.signal], [0, null], demo.describe());
    const total = /^total: (\d+) readings stored/m.exec(out.stdout);
    assert.ok(total, demo.describe());
    const stored = await countStored(db);
    assert.equal(Number(total[1]), [...stored.values()].reduce((n, c) => n + c.readings, 0));
  });
});

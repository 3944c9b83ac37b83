// `sensorwire readings` run as a process (through a small entry script) against a database filled
// through the store: each format's exact output, the filters, errors and their exit codes, and a
// reader that goes away early.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Reading } from '../../src/protocol/index.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.ts';

const ENTRY = fileURLToPath(new URL('fixtures/readings-main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the command to its end (killed by PID if the test fails first). With `hangUp`, closes its
 * stdout after the first chunk, as `| head -1` would; `stdout` is then that chunk.
 */
async function run(args: readonly string[], options: { cwd?: string; hangUp?: boolean } = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', TSX, ENTRY, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (options.hangUp === true) {
        if (stdout === '') stdout = d;
        child.stdout.destroy();
      } else {
        stdout += d;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    return { code, stdout, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid);
  }
}

const T0 = Date.UTC(2026, 10, 23, 10); // 2026-11-23T10:00:00.000Z

// What the command prints for the database filled below.
const TABLE_LINES = [
  'TIME                      DEVICE  SESSION  SEQ  IDX  SENSOR  NAME         TYPE       VALUE                        UNIT',
  '2026-11-23T10:00:00.000Z       7        1    2    0       1  temperature  float32    21.5                         °C',
  '2026-11-23T10:00:00.000Z       7        1    2    1       2  label        string     "a \\"quoted\\", text"',
  '2026-11-23T10:00:00.010Z       7        1    2    2       3  position     geo        40.4167754,-3.7037902',
  '2026-11-23T10:00:00.010Z       7        1    2    3       4  raw          bytes      dead',
  '2026-11-23T10:01:00.000Z       7        1    3    0       1  temperature  float32    0.1                          °C',
  '2026-11-23T10:01:00.000Z       7        1    3    1       5               int64      -9223372036854775808',
  '2026-11-23T10:01:00.001Z       7        1    3    2       2  label        string     "línea\\nnueva 温度"',
  '2026-11-23T10:00:30.000Z       9        4    2    0       1               uint64     18446744073709551615',
  '2026-11-23T10:00:30.001Z       9        4    2    1       2               float64    NaN',
  '2026-11-23T10:00:30.002Z       9        4    2    2       3               timestamp  2023-11-14T22:13:20.123456Z',
  '2026-11-23T10:00:30.003Z       9        4    2    3       4               bool       true',
];

const CSV_LINES = [
  'device,session,seq,index,sensor,name,unit,type,value,ts,time,transport,receivedAt',
  '7,1,2,0,1,temperature,°C,float32,21.5,1795428000000,2026-11-23T10:00:00.000Z,tcp,1795428000005',
  '7,1,2,1,2,label,,string,"a ""quoted"", text",1795428000000,2026-11-23T10:00:00.000Z,tcp,1795428000005',
  '7,1,2,2,3,position,,geo,"40.4167754,-3.7037902",1795428000010,2026-11-23T10:00:00.010Z,tcp,1795428000005',
  '7,1,2,3,4,raw,,bytes,dead,1795428000010,2026-11-23T10:00:00.010Z,tcp,1795428000005',
  '7,1,3,0,1,temperature,°C,float32,0.10000000149011612,1795428060000,2026-11-23T10:01:00.000Z,tcp,1795428060002',
  '7,1,3,1,5,,,int64,-9223372036854775808,1795428060000,2026-11-23T10:01:00.000Z,tcp,1795428060002',
  '7,1,3,2,2,label,,string,"línea\nnueva 温度",1795428060001,2026-11-23T10:01:00.001Z,tcp,1795428060002',
  '9,4,2,0,1,,,uint64,18446744073709551615,1795428030000,2026-11-23T10:00:30.000Z,udp,1795428030001',
  '9,4,2,1,2,,,float64,NaN,1795428030001,2026-11-23T10:00:30.001Z,udp,1795428030001',
  '9,4,2,2,3,,,timestamp,1700000000123456,1795428030002,2026-11-23T10:00:30.002Z,udp,1795428030001',
  '9,4,2,3,4,,,bool,true,1795428030003,2026-11-23T10:00:30.003Z,udp,1795428030001',
];

/** The JSON lines, as objects in the order of their keys. */
const JSONL_OBJECTS = [
  { device: 7, session: 1, seq: 2, index: 0, sensor: 1, name: 'temperature', unit: '°C', type: 'float32', value: 21.5, ts: T0, time: '2026-11-23T10:00:00.000Z', transport: 'tcp', receivedAt: T0 + 5 },
  { device: 7, session: 1, seq: 2, index: 1, sensor: 2, name: 'label', unit: '', type: 'string', value: 'a "quoted", text', ts: T0, time: '2026-11-23T10:00:00.000Z', transport: 'tcp', receivedAt: T0 + 5 },
  { device: 7, session: 1, seq: 2, index: 2, sensor: 3, name: 'position', unit: '', type: 'geo', value: { lat: 40.4167754, lon: -3.7037902 }, ts: T0 + 10, time: '2026-11-23T10:00:00.010Z', transport: 'tcp', receivedAt: T0 + 5 },
  { device: 7, session: 1, seq: 2, index: 3, sensor: 4, name: 'raw', unit: '', type: 'bytes', value: 'dead', ts: T0 + 10, time: '2026-11-23T10:00:00.010Z', transport: 'tcp', receivedAt: T0 + 5 },
  { device: 7, session: 1, seq: 3, index: 0, sensor: 1, name: 'temperature', unit: '°C', type: 'float32', value: 0.10000000149011612, ts: T0 + 60_000, time: '2026-11-23T10:01:00.000Z', transport: 'tcp', receivedAt: T0 + 60_002 },
  { device: 7, session: 1, seq: 3, index: 1, sensor: 5, name: '', unit: '', type: 'int64', value: '-9223372036854775808', ts: T0 + 60_000, time: '2026-11-23T10:01:00.000Z', transport: 'tcp', receivedAt: T0 + 60_002 },
  { device: 7, session: 1, seq: 3, index: 2, sensor: 2, name: 'label', unit: '', type: 'string', value: 'línea\nnueva 温度', ts: T0 + 60_001, time: '2026-11-23T10:01:00.001Z', transport: 'tcp', receivedAt: T0 + 60_002 },
  { device: 9, session: 4, seq: 2, index: 0, sensor: 1, name: '', unit: '', type: 'uint64', value: '18446744073709551615', ts: T0 + 30_000, time: '2026-11-23T10:00:30.000Z', transport: 'udp', receivedAt: T0 + 30_001 },
  { device: 9, session: 4, seq: 2, index: 1, sensor: 2, name: '', unit: '', type: 'float64', value: 'NaN', ts: T0 + 30_001, time: '2026-11-23T10:00:30.001Z', transport: 'udp', receivedAt: T0 + 30_001 },
  { device: 9, session: 4, seq: 2, index: 2, sensor: 3, name: '', unit: '', type: 'timestamp', value: '1700000000123456', ts: T0 + 30_002, time: '2026-11-23T10:00:30.002Z', transport: 'udp', receivedAt: T0 + 30_001 },
  { device: 9, session: 4, seq: 2, index: 3, sensor: 4, name: '', unit: '', type: 'bool', value: true, ts: T0 + 30_003, time: '2026-11-23T10:00:30.003Z', transport: 'udp', receivedAt: T0 + 30_001 },
];

const dir = mkdtempSync(join(tmpdir(), 'sensorwire-readings-'));
const DB = join(dir, 'sensorwire.db');
let writer: SqliteStore | undefined;

before(async () => {
  // The test keeps this connection open, as a running server would.
  writer = openSqliteStore(DB);
  await writer.saveDevice({
    deviceId: 7, session: 1, model: 'wx', firmware: '1', intervalMs: 1000, transport: 'tcp', highestSeq: 0, configId: 0,
    firstSeen: T0, lastSeen: T0,
    sensors: [
      { id: 1, type: 'float32', delivery: 'latest', unit: '°C', name: 'temperature' },
      { id: 2, type: 'string', delivery: 'reliable', unit: '', name: 'label' },
      { id: 3, type: 'geo', delivery: 'reliable', unit: '', name: 'position' },
      { id: 4, type: 'bytes', delivery: 'reliable', unit: '', name: 'raw' },
    ],
  });
  await writer.commit([
    {
      deviceId: 7, session: 1, seq: 2, transport: 'tcp', baseTime: T0, receivedAt: T0 + 5, readings: [
        { sensor: 1, delta: 0, type: 'float32', value: 21.5 },
        { sensor: 2, delta: 0, type: 'string', value: 'a "quoted", text' },
        { sensor: 3, delta: 10, type: 'geo', value: { lat: 40.4167754, lon: -3.7037902 } },
        { sensor: 4, delta: 10, type: 'bytes', value: new Uint8Array([0xde, 0xad]) },
      ],
    },
    {
      deviceId: 9, session: 4, seq: 2, transport: 'udp', baseTime: T0 + 30_000, receivedAt: T0 + 30_001, readings: [
        { sensor: 1, delta: 0, type: 'uint64', value: 2n ** 64n - 1n },
        { sensor: 2, delta: 1, type: 'float64', value: NaN },
        { sensor: 3, delta: 2, type: 'timestamp', value: 1_700_000_000_123_456n },
        { sensor: 4, delta: 3, type: 'bool', value: true },
      ],
    },
    {
      deviceId: 7, session: 1, seq: 3, transport: 'tcp', baseTime: T0 + 60_000, receivedAt: T0 + 60_002, readings: [
        { sensor: 1, delta: 0, type: 'float32', value: Math.fround(0.1) },
        { sensor: 5, delta: 0, type: 'int64', value: -(2n ** 63n) },
        { sensor: 2, delta: 1, type: 'string', value: 'línea\nnueva 温度' },
      ],
    },
  ]);
});

after(async () => {
  await writer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The header and the lines of the readings `keep` selects by position. */
function pick(lines: readonly string[], keep: (_: unknown, i: number) => boolean): string[] {
  return lines.filter((_, i) => i === 0 || keep(undefined, i - 1));
}

const jsonl = (objects: readonly object[]): string => objects.map((o) => `${JSON.stringify(o)}\n`).join('');

describe('readings command', () => {
  it('prints an aligned table by default', async () => {
    const out = await run(['--db', DB]);
    assert.deepEqual(out, { code: 0, stdout: TABLE_LINES.map((l) => `${l}\n`).join(''), stderr: '' });
  });

  it('prints RFC 4180 CSV with a header row', async () => {
    const out = await run(['--db', DB, '--format', 'csv']);
    assert.deepEqual(out, { code: 0, stdout: CSV_LINES.map((l) => `${l}\r\n`).join(''), stderr: '' });
  });

  it('prints one JSON object a line, values in their JSON form', async () => {
    const out = await run(['--format', 'jsonl', '--db', DB]);
    assert.deepEqual(out, { code: 0, stdout: jsonl(JSONL_OBJECTS), stderr: '' });
  });

  it('filters by device, time and count, in every format', async () => {
    // Each case: the options, and the readings (by position in JSONL_OBJECTS) they select.
    const cases: [string[], number[]][] = [
      [['--device', '9'], [7, 8, 9, 10]],
      [['--since', '2026-11-23T10:00:30Z'], [4, 5, 6, 7, 8, 9, 10]],
      [['--since', String(T0 + 10)], [2, 3, 4, 5, 6, 7, 8, 9, 10]],
      [['--device', '7', '--since', String(T0 + 5), '--limit', '3'], [2, 3, 4]],
      [['--limit', '2'], [0, 1]],
      [['--limit', '0'], []],
      [['--device', '8'], []],
    ];
    const selected = (picked: readonly number[]) => (_: unknown, i: number): boolean => picked.includes(i);
    const outputs = await Promise.all(cases.map(([args]) => run(['--db', DB, '--format', 'jsonl', ...args])));
    cases.forEach(([args, picked], i) => {
      assert.deepEqual(outputs[i], { code: 0, stdout: jsonl(JSONL_OBJECTS.filter(selected(picked))), stderr: '' }, args.join(' '));
    });
    // The other formats apply the same filters.
    const [args, picked] = cases[3]!;
    assert.equal((await run(['--db', DB, '--format', 'csv', ...args])).stdout, pick(CSV_LINES, selected(picked)).map((l) => `${l}\r\n`).join(''));
    // The table sizes its columns to the rows it shows.
    assert.equal((await run(['--db', DB, ...args])).stdout, [
      'TIME                      DEVICE  SESSION  SEQ  IDX  SENSOR  NAME         TYPE     VALUE                  UNIT',
      '2026-11-23T10:00:00.010Z       7        1    2    2       3  position     geo      40.4167754,-3.7037902',
      '2026-11-23T10:00:00.010Z       7        1    2    3       4  raw          bytes    dead',
      '2026-11-23T10:01:00.000Z       7        1    3    0       1  temperature  float32  0.1                    °C',
    ].map((l) => `${l}\n`).join(''));
  });

  it('uses ./sensorwire.db by default', async () => {
    const out = await run(['--format', 'jsonl'], { cwd: dir });
    assert.deepEqual(out, { code: 0, stdout: jsonl(JSONL_OBJECTS), stderr: '' });
  });

  it('fails with exit code 1 and a message for a missing database, creating nothing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sensorwire-readings-empty-'));
    try {
      for (const args of [['--db', join(empty, 'missing.db')], ['--db', join(empty, 'no-dir', 'x.db')], []]) {
        const out = await run(args, { cwd: empty });
        assert.equal(out.code, 1, args.join(' '));
        assert.equal(out.stdout, '');
        assert.notEqual(out.stderr.trim(), '');
      }
      assert.equal(existsSync(join(empty, 'missing.db')), false);
      assert.equal(existsSync(join(empty, 'sensorwire.db')), false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('refuses bad options with exit code 1', async () => {
    const cases = [['--format', 'xml'], ['--limit', '-1'], ['--device', '4294967296'], ['--since', 'yesterday'], ['--no-such-option']];
    const outputs = await Promise.all(cases.map((args) => run(['--db', DB, ...args])));
    cases.forEach((args, i) => {
      assert.equal(outputs[i]?.code, 1, args.join(' '));
      assert.equal(outputs[i]?.stdout, '');
      assert.notEqual(outputs[i]?.stderr.trim(), '');
    });
  });

  it('sees what a connected writer commits after it', async () => {
    const more = {
      deviceId: 9, session: 5, seq: 2, transport: 'rudp', baseTime: T0 + 90_000, receivedAt: T0 + 90_000,
      readings: [{ sensor: 1, delta: 0, type: 'int8', value: -1 }],
    } as const;
    assert.deepEqual(await writer?.commit([more]), ['stored']);
    const out = await run(['--db', DB, '--format', 'jsonl', '--device', '9', '--since', String(T0 + 90_000)]);
    assert.equal(out.stdout, jsonl([{
      device: 9, session: 5, seq: 2, index: 0, sensor: 1, name: '', unit: '', type: 'int8', value: -1, ts: T0 + 90_000,
      time: '2026-11-23T10:01:30.000Z', transport: 'rudp', receivedAt: T0 + 90_000,
    }]));
  });
});

describe('readings command on a large database', () => {
  const bigDir = mkdtempSync(join(tmpdir(), 'sensorwire-readings-big-'));
  const BIG = join(bigDir, 'big.db');
  const MESSAGES = 300;
  before(async () => {
    const store = openSqliteStore(BIG);
    const readings = Array.from({ length: 255 }, (_, i): Reading => ({ sensor: 1, delta: i, type: 'uint16', value: i }));
    await store.commit(Array.from({ length: MESSAGES }, (_, m) => ({
      deviceId: 1, session: 1, seq: m + 2, transport: 'tcp', baseTime: T0 + m * 1000, receivedAt: T0 + m * 1000, readings,
    })));
    await store.close();
  });
  after(() => rmSync(bigDir, { recursive: true, force: true }));

  it('writes all of a large output', async () => {
    const out = await run(['--db', BIG, '--format', 'csv']);
    assert.equal(out.code, 0);
    assert.equal(out.stderr, '');
    const lines = out.stdout.split('\r\n');
    assert.equal(lines.length, 1 + MESSAGES * 255 + 1);
    assert.equal(lines.at(-2), `1,1,${MESSAGES + 1},254,1,,,uint16,254,${T0 + (MESSAGES - 1) * 1000 + 254},${new Date(T0 + (MESSAGES - 1) * 1000 + 254).toISOString()},tcp,${T0 + (MESSAGES - 1) * 1000}`);
  });

  it('stops quietly with exit code 0 when its reader goes away', async () => {
    for (const format of ['table', 'csv', 'jsonl']) {
      const out = await run(['--db', BIG, '--format', format], { hangUp: true });
      assert.notEqual(out.stdout, '', format);
      assert.deepEqual([out.code, out.stderr], [0, ''], format);
    }
  });
});

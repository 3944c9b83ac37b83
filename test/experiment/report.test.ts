// The report on made-up runs (pure: no root, no network): its sections, tables and charts, the
// comparison of each run with the model, and the rendering of a chart to SVG and PNG.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderChart } from '../../src/experiment/charts.ts';
import { compareRun } from '../../src/experiment/compare.ts';
import { generateReport, layersAddUp } from '../../src/experiment/report.ts';
import type { RunResult } from '../../src/experiment/types.ts';
import { data, modelledCounts, run, spec } from './synthetic.ts';

/** A TCP run as Linux makes it: the nine messages of a round coalesced into one segment, and a few delayed ACKs. */
function coalescedTcp(): RunResult {
  const s = spec('tcp', 1);
  const c = modelledCounts(s);
  const flowing = c.cost.session.frames + c.cost.steady.frames; // 184 message segments in the model
  const segments = 24;
  const pureAcks = 5;
  const saved = (flowing - segments) * 66;
  c.segments.data = { frames: segments, bytes: c.segments.data.bytes - saved };
  c.segments.pureAck = { frames: 2 + pureAcks, bytes: (2 + pureAcks) * 66 };
  c.cost.steady = { frames: c.cost.steady.frames - (flowing - segments) + pureAcks, bytes: c.cost.steady.bytes - saved + pureAcks * 66 };
  c.frames = c.cost.handshake.frames + c.cost.teardown.frames + c.cost.session.frames + c.cost.steady.frames;
  c.bytes += pureAcks * 66 - saved;
  c.layers.link += 14 * (pureAcks - (flowing - segments));
  c.layers.ip += 20 * (pureAcks - (flowing - segments));
  c.layers.transport += 32 * (pureAcks - (flowing - segments));
  return run(s, c);
}

/** Plain UDP at 20 % loss: a fifth of the READINGS never answered. */
function lossyUdp(): RunResult {
  const s = spec('udp', 1, 20);
  const c = modelledCounts(s);
  const lostAcks = 18;
  const ackFrame = 42 + 14;
  c.messages.ACK -= lostAcks;
  c.frames -= lostAcks;
  c.bytes -= lostAcks * ackFrame;
  c.layers.link -= 14 * lostAcks;
  c.layers.ip -= 20 * lostAcks;
  c.layers.transport -= 8 * lostAcks;
  c.layers.header -= 4 * lostAcks;
  c.layers.body -= 10 * lostAcks;
  c.cost.steady = { frames: c.cost.steady.frames - lostAcks, bytes: c.cost.steady.bytes - lostAcks * ackFrame };
  return run(s, c, 72);
}

const runs = (): RunResult[] => [
  run(spec('tcp', 10)),
  coalescedTcp(),
  run(spec('udp', 1)),
  run(spec('udp', 10)),
  lossyUdp(),
  run(spec('udp', 10, 20), modelledCounts(spec('udp', 10, 20)), 80),
  run(spec('rudp', 1)),
];

describe('comparison with the model', () => {
  test('a run that went as modelled differs in nothing', () => {
    for (const r of [run(spec('udp', 1)), run(spec('rudp', 10)), run(spec('tcp', 10))]) {
      const c = compareRun(r, [r]);
      assert.equal(c.frames, 0, r.spec.transport);
      assert.equal(c.bytes, 0, r.spec.transport);
      assert.ok(c.causes.every((x) => x.frames === 0 && x.bytes === 0), JSON.stringify(c.causes));
    }
  });

  test('TCP: coalescing and pure ACKs explain the difference, to the byte', () => {
    const r = coalescedTcp();
    const c = compareRun(r, [r]);
    const by = Object.fromEntries(c.causes.map((x) => [x.cause, x]));
    assert.equal(by['pure ACKs']?.frames, 5);
    assert.equal(by['coalescing']?.frames, 24 - 184);
    assert.equal(by['field sizes']?.bytes, 0);
    assert.equal(c.causes.reduce((s, x) => s + x.frames, 0), c.frames);
    assert.equal(c.causes.reduce((s, x) => s + x.bytes, 0), c.bytes);
  });

  test('UDP under loss: the ACKs never sent explain the difference', () => {
    const r = lossyUdp();
    const c = compareRun(r, [r]);
    assert.equal(c.frames, -18);
    assert.deepEqual(c.causes.map((x) => [x.cause, x.frames, x.bytes]), [['ACKs', -18, -18 * 56], ['field sizes', 0, 0]]);
  });

  test('the model takes the value size of the lossless run of the same transport and batch', () => {
    const lossless = run(spec('udp', 10));
    const lossy = run(spec('udp', 10, 20));
    assert.equal(compareRun(lossy, [lossless, lossy]).model.total.layers.values, lossless.measured.layers.values);
  });
});

describe('report', () => {
  const report = generateReport(data(runs()));
  const md = report.markdown;

  test('says how it was measured, then the tables', () => {
    assert.match(md, /^# What each transport costs on the wire\n/);
    assert.match(md, /`sensorwire experiment --readings 90`/);
    assert.match(md, /on test \(linux 6\.1, 2 × test cpu, Node v20\.0\.0\)/);
    for (const heading of ['## Without loss', '## Under loss', '## The model', '## Why measurement and model differ', '## Every run: measurement against model', '## Segments, messages and costs of every run', '## Reproduce']) {
      assert.ok(md.includes(`\n${heading}\n`), heading);
    }
    assert.equal((md.match(/^### /gm) ?? []).length, runs().length);
    assert.match(md, /\| udp \| 1 \| 20 % \| 0 \| 72 \/ 90 \(80\.0 %\) \| 80 % \|/);
  });

  test('explains every mechanism the model leaves out', () => {
    for (const word of ['Coalescing', 'Pure ACKs and delayed ACKs', 'Handshake and teardown', 'TCP options', 'HELLO and BYE', 'Retransmissions', 'Cumulative ACKs', 'Delivery classes', 'Field sizes']) {
      assert.ok(md.includes(`**${word}`), word);
    }
  });

  test('four charts, each linked as SVG and PNG', () => {
    assert.deepEqual(report.charts.map((c) => c.name), ['bytes-by-layer', 'bytes-per-reading-vs-batch', 'delivered-vs-loss', 'wire-bytes-vs-loss']);
    for (const c of report.charts) {
      assert.ok(md.includes(`](${c.name}.svg)`), c.name);
      assert.ok(md.includes(`](${c.name}.png)`), c.name);
    }
  });

  test('without lossy runs, no loss section or loss charts', () => {
    const only = generateReport(data([run(spec('tcp', 1)), run(spec('udp', 1))]));
    assert.ok(!only.markdown.includes('## Under loss'));
    assert.deepEqual(only.charts.map((c) => c.name), ['bytes-by-layer', 'bytes-per-reading-vs-batch']);
  });

  test('is a pure function of the data', () => {
    assert.equal(generateReport(data(runs())).markdown, md);
  });

  test('every synthetic run adds up by layer and by cost', () => {
    for (const r of runs()) assert.ok(layersAddUp(r), `${r.spec.transport} ${r.spec.batch} ${r.spec.loss}`);
    const broken = run(spec('udp', 1));
    const bad = { ...broken, measured: { ...broken.measured, bytes: broken.measured.bytes + 1 } };
    assert.equal(layersAddUp(bad), false);
  });

  test('a chart renders to SVG and PNG without a browser', () => {
    const chart = report.charts[0]!;
    const { svg, png } = renderChart(chart);
    assert.match(svg, /^<svg [^>]*width="900" height="480"/);
    assert.ok(svg.includes('Ethernet'), 'legend in the SVG');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });
});

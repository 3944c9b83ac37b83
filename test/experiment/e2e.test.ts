// One small `sensorwire experiment` end to end, as a user runs it: real namespaces, tcpdump, nft
// loss, the report written. Its figures are checked for consistency: TCP pays a handshake and a
// teardown and UDP does not; every run's bytes by layer and by cost add up to its wire bytes;
// plain UDP loses readings under loss while TCP delivers them all; rudp resends only under loss,
// and delivers every reading (the experiment declares every sensor reliable by default). Needs root, iproute2, nftables
// and tcpdump: without them it fails, naming what is missing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { layersAddUp } from '../../src/experiment/report.ts';
import type { ExperimentData, RunResult } from '../../src/experiment/types.ts';
import { run, tempDir } from '../support/cli.ts';
import { command, requireAll, root } from '../support/requires.ts';

const TRANSPORTS = ['tcp', 'udp', 'rudp'] as const;
const READINGS = 90;

describe('sensorwire experiment end to end', { timeout: 240_000 }, () => {
  test(`${TRANSPORTS.join(', ')}; batch 3; loss 0 and 20 %`, { timeout: 230_000 }, async (t) => {
    requireAll(root, command('ip', 'iproute2'), command('ss', 'iproute2'), command('nft', 'nftables'), command('tcpdump'));
    const out = join(tempDir(t, 'sensorwire-experiment-'), 'report');
    const started = performance.now();
    const r = await run(
      t,
      ['experiment', '--transports', TRANSPORTS.join(','), '--readings', String(READINGS), '--batch', '3', '--loss', '0,20', '--interval', '10ms', '--out', out],
      { env: { CI: 'true' }, timeoutMs: 220_000 },
    );
    t.diagnostic(`experiment took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const runs = TRANSPORTS.length * 2;
    assert.equal((r.stderr.match(/^run \d+\/\d+ /gm) ?? []).length, runs, r.stderr);

    for (const chart of ['bytes-by-layer', 'bytes-per-reading-vs-batch', 'delivered-vs-loss', 'wire-bytes-vs-loss']) {
      for (const ext of ['svg', 'png']) assert.ok(statSync(join(out, `${chart}.${ext}`)).size > 1000, `${chart}.${ext}`);
    }
    assert.ok(existsSync(join(out, 'report.md')));
    const data = JSON.parse(readFileSync(join(out, 'data.json'), 'utf8')) as ExperimentData;
    assert.equal(data.runs.length, runs);
    const find = (transport: string, loss: number): RunResult => {
      const found = data.runs.find((x) => x.spec.transport === transport && x.spec.loss === loss);
      assert.ok(found, `${transport} at ${loss} %`);
      return found;
    };

    for (const x of data.runs) {
      const name = `${x.spec.transport} at ${x.spec.loss} %`;
      assert.ok(layersAddUp(x), `${name}: bytes by layer and by cost add up to ${x.measured.bytes}`);
      assert.equal(x.capture.droppedByKernel, 0, name);
      assert.equal(x.measured.frames, x.capture.captured, `${name}: every captured frame is sensorwire's`);
      assert.equal(x.seenAs, x.spec.transport, name);
      assert.equal(x.measured.readings, READINGS, `${name}: every reading crossed the capture point once at least`);
      assert.ok(x.measured.messages.HELLO >= 1 && x.measured.messages.BYE >= 1, name);
      if (x.spec.loss > 0) assert.ok(x.dropped.a + x.dropped.b > 0, `${name}: the loss rule dropped packets`);
      else assert.equal(x.dropped.a + x.dropped.b, 0, name);
    }

    for (const loss of [0, 20]) {
      const tcp = find('tcp', loss).measured;
      assert.ok(tcp.segments.syn.frames >= 1 && tcp.segments.synAck.frames >= 1, `tcp at ${loss} %: SYN and SYN-ACK`);
      assert.ok(tcp.cost.handshake.frames >= 3 && tcp.cost.handshake.bytes >= 3 * 66, `tcp at ${loss} %: handshake ${JSON.stringify(tcp.cost.handshake)}`);
      assert.ok(tcp.segments.fin.frames >= 2 && tcp.cost.teardown.frames >= 2, `tcp at ${loss} %: teardown ${JSON.stringify(tcp.cost.teardown)}`);
      assert.equal(find('tcp', loss).stored, READINGS, `tcp at ${loss} %: everything delivered`);
      const udp = find('udp', loss).measured;
      for (const kind of ['syn', 'synAck', 'fin', 'rst', 'pureAck'] as const) assert.equal(udp.segments[kind].frames, 0, `udp at ${loss} %: no ${kind}`);
      assert.deepEqual(udp.cost.handshake, { frames: 0, bytes: 0 });
      assert.deepEqual(udp.cost.teardown, { frames: 0, bytes: 0 });
    }
    assert.ok(find('tcp', 0).tcp?.options.includes('timestamps'), 'timestamps negotiated');
    assert.equal(find('udp', 0).stored, READINGS, 'udp without loss delivers everything');
    assert.ok(find('udp', 20).stored < READINGS, 'plain udp loses readings at 20 % loss');
    // Without loss TCP has nothing to repair, but a loaded machine can still make it send a tail
    // loss probe (RFC 8985): the receiving kernel delays its ACK of a few small segments (40 ms)
    // when the application's reply is late, and the probe fires after about 2 × SRTT + 2 ticks.
    // One such run, with every test file of the suite running two at a time, had one.
    const spurious = find('tcp', 0).measured.tcpRetransmissions.frames;
    assert.ok(spurious <= 2, `tcp at 0 %: ${spurious} retransmissions, more than a probe or two`);

    const rudp0 = find('rudp', 0);
    const rudp20 = find('rudp', 20);
    assert.deepEqual(rudp0.measured.resent, { frames: 0, bytes: 0, readings: 0 }, 'rudp resends nothing without loss');
    assert.equal(rudp0.device.retransmissions, 0);
    assert.equal(rudp0.stored, READINGS);
    assert.ok(rudp20.measured.resent.frames > 0 && rudp20.device.retransmissions > 0, `rudp resends under loss: ${JSON.stringify(rudp20.measured.resent)}`);
    assert.equal(rudp20.device.unacknowledged, 0, 'rudp: nothing left unacknowledged');
    assert.equal(rudp20.stored, READINGS, 'rudp delivers every reading (every sensor is declared reliable by default)');
    const acked = rudp0.measured.readingsMessages + 2; // READINGS, HELLO and BYE
    assert.ok(rudp0.measured.messages.ACK < acked, `rudp acknowledges cumulatively: ${rudp0.measured.messages.ACK} ACKs for ${acked} messages`);

    const md = readFileSync(join(out, 'report.md'), 'utf8');
    for (const x of data.runs) assert.ok(md.includes(`### ${x.spec.transport}, batch 3${x.spec.loss > 0 ? `, loss ${x.spec.loss} %` : ''}\n`), `a section for ${x.spec.transport} ${x.spec.loss}`);
    assert.doesNotMatch(md, /\| \*\*no\*\* \|/, 'every run adds up');
  });
});

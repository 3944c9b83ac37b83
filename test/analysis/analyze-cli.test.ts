// `sensorwire analyze` as a user runs it: on a capture written by the test (the protocol's
// vectors over TCP on port 7878, over UDP on 7878 and on 9000), the table, the JSON document
// and its shape, --port in both spellings, and the errors (no such file, not a capture).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeFile } from '../../src/analysis/overhead.ts';
import { LAYER_NAMES, type OverheadReport } from '../../src/analysis/overhead-types.ts';
import { fromHex } from '../../src/protocol/index.ts';
import { run, SuiteCleanup, tempDir } from '../support/cli.ts';
import { validVectors } from '../vectors/index.ts';
import { pcapOf, tcpFrames, udpFrames } from './overhead-pcap.ts';

const plain = validVectors.filter((v) => !(v.message as { reliable?: boolean }).reliable && !('rudp' in (v.message as object)));

describe('sensorwire analyze', { timeout: 60_000 }, () => {
  const cleanup = new SuiteCleanup();
  let file = '';
  let dir = '';

  before(() => {
    dir = tempDir(cleanup, 'sensorwire-analyze-');
    file = join(dir, 'vectors.pcap');
    const stream = Uint8Array.from(Buffer.concat(validVectors.map((v) => fromHex(v.frame))));
    writeFileSync(file, pcapOf([
      ...tcpFrames({ clientPort: 40000, serverPort: 7878, stream, segment: 50 }),
      ...udpFrames(40001, 7878, plain.map((v) => fromHex(v.hex))),
      ...udpFrames(40002, 9000, [fromHex(validVectors[0]!.hex)]),
    ]));
  });
  after(() => cleanup.run());

  it('prints the tables: flows, by transport, messages, bytes by layer', async (t) => {
    const done = await run(t, ['analyze', file]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stderr, '');
    const out = done.stdout;
    assert.match(out, /^.*vectors\.pcap \(pcap\): \d+ frames, \d+ bytes; sensorwire on port 7878: 2 flows/);
    for (const heading of ['Flows', 'By transport', 'Messages', 'Bytes by layer (share of the wire bytes)']) {
      assert.ok(out.split('\n').includes(heading), `heading ${heading}`);
    }
    assert.match(out, /^0 +tcp +127\.0\.0\.1:40000 +127\.0\.0\.1:7878 /m);
    assert.match(out, /^\d+ +udp +127\.0\.0\.1:40001 +127\.0\.0\.1:7878 /m);
    assert.match(out, /^ +tcp +udp +all$/m);
    assert.match(out, /^wire bytes per reading +[\d.]+ +[\d.]+ +[\d.]+$/m);
    assert.match(out, /^efficiency \(values \/ wire\) +[\d.]+% +[\d.]+% +[\d.]+%$/m);
    assert.match(out, /^ {2}TCP handshake +3 \/ \d+ +0 \/ 0 +3 \/ \d+$/m);
    assert.match(out, /^reading values +\d+ +[\d.]+%/m);
    assert.match(out, /^total +\d+ 100\.0% +\d+ 100\.0% +\d+ 100\.0%$/m);
    assert.match(out, /^ {2}tcp: HELLO 4, READINGS 6, ACK 5, CONFIG 1, ERROR 1, PING 1, PONG 1, BYE 1$/m);
  });

  it('prints one JSON document, the report analyzeFile returns', async (t) => {
    const done = await run(t, ['analyze', file, '--json']);
    assert.equal(done.code, 0, done.stderr);
    const report = JSON.parse(done.stdout) as OverheadReport;
    assert.deepEqual(report, JSON.parse(JSON.stringify(analyzeFile(file))));
    // The shape documented in src/analysis/overhead-types.ts.
    assert.deepEqual(Object.keys(report).sort(), ['capture', 'file', 'flows', 'format', 'ports', 'selected', 'total', 'transports', 'truncated']);
    assert.equal(report.format, 'pcap');
    assert.deepEqual(report.ports, [7878]);
    assert.equal(report.truncated, null);
    assert.deepEqual(report.transports.map((x) => x.transport), ['tcp', 'udp']);
    for (const flow of report.flows) {
      for (const key of ['id', 'transport', 'a', 'b', 'server', 'device', 'deviceIds', 'start', 'durationMs', 'aToB', 'bToA', 'derived']) {
        assert.ok(key in flow, `flow.${key}`);
      }
      assert.match(flow.start ?? '', /^2025-11-23T12:13:20\.000Z$/);
    }
    for (const s of [report.total, ...report.transports, ...report.flows]) {
      assert.deepEqual(Object.keys(s.layers), [...LAYER_NAMES]);
      assert.equal(LAYER_NAMES.reduce((n, l) => n + s.layers[l], 0), s.bytes);
      for (const key of ['frames', 'bytes', 'segments', 'tcpRetransmissions', 'messages', 'malformed', 'readingsMessages', 'readings', 'resent', 'cost']) {
        assert.ok(key in s, key);
      }
      for (const key of ['bytesPerReading', 'steadyBytesPerReading', 'efficiency', 'sharePercent', 'oneOff', 'framesPerReading']) {
        assert.ok(key in s.derived, `derived.${key}`);
      }
    }
    assert.equal(report.total.bytes, report.flows.reduce((n, f) => n + f.bytes, 0));
  });

  it('takes --port repeated or as a list', async (t) => {
    const [repeatedRun, listedRun, noneRun] = await Promise.all([
      run(t, ['analyze', file, '--json', '--port', '7878', '--port', '9000']),
      run(t, ['analyze', file, '--json', '--port', '9000,7878']),
      run(t, ['analyze', file, '--port', '1234']),
    ]);
    const repeated = JSON.parse(repeatedRun.stdout) as OverheadReport;
    const listed = JSON.parse(listedRun.stdout) as OverheadReport;
    assert.deepEqual(repeated.ports, [7878, 9000]);
    assert.deepEqual(listed.ports, [9000, 7878]);
    assert.deepEqual(repeated.flows.map((f) => f.server.port), [7878, 7878, 9000]);
    assert.deepEqual(listed.flows, repeated.flows);
    assert.equal(noneRun.code, 0);
    assert.match(noneRun.stdout, /no TCP or UDP flow on port 1234/);
  });

  it('exits 1 with a clear message on a missing file, one that is not a capture, a bad port', async (t) => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'these are not packets\n');
    const [missing, notCapture, badPort] = await Promise.all([
      run(t, ['analyze', join(dir, 'nope.pcap')]),
      run(t, ['analyze', text, '--json']),
      run(t, ['analyze', file, '--port', '70000']),
    ]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^sensorwire: analyze: cannot read .*nope\.pcap: ENOENT/);
    assert.equal(notCapture.code, 1);
    assert.equal(notCapture.stdout, '');
    assert.match(notCapture.stderr, /^sensorwire: analyze: .*notes\.txt is not a pcap or pcapng capture \(PCAP_BAD_MAGIC/);
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /--port <ports>.*"70000" is not a whole number from 1 to 65535/);
  });
});

// The analyzer on hand-built captures of the protocol's test vectors: the byte split of single
// messages against the figures of PROTOCOL.md §12.2, every vector over UDP and over one TCP
// connection cut into small segments, malformed datagrams and streams, rudp retransmissions,
// TCP retransmissions, port selection, and a file cut short.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { layerTotal } from '../../src/analysis/overhead-counts.ts';
import { analyzeCapture, analyzeFile } from '../../src/analysis/overhead.ts';
import type { FlowReport, OverheadReport } from '../../src/analysis/overhead-types.ts';
import { readCapture } from '../../src/analysis/pcap.ts';
import { decodeHeader, fromHex } from '../../src/protocol/index.ts';
import { invalidVectors, streamInvalidVectors, validVectors } from '../vectors/index.ts';
import { pcapOf, tcpFrames, udpFrames } from './overhead-pcap.ts';
import { classicPcap } from './pcap-build.ts';

function analyze(frames: readonly Uint8Array[], ports?: number[]): OverheadReport {
  return analyzeCapture(readCapture(pcapOf(frames)), ports === undefined ? {} : { ports });
}

function vector(name: string): Uint8Array {
  const v = validVectors.find((x) => x.name === name);
  assert.ok(v, name);
  return fromHex(v.hex);
}

function only(report: OverheadReport): FlowReport {
  assert.equal(report.flows.length, 1);
  return report.flows[0]!;
}

function checkSums(report: OverheadReport): void {
  for (const s of [report.total, ...report.transports, ...report.flows, ...report.flows.flatMap((f) => [f.aToB, f.bToA])]) {
    assert.equal(layerTotal(s.layers), s.bytes, 'layers add up to the wire bytes');
    const { handshake, teardown, session, steady } = s.cost;
    assert.equal(handshake.frames + teardown.frames + session.frames + steady.frames, s.frames);
    assert.equal(handshake.bytes + teardown.bytes + session.bytes + steady.bytes, s.bytes);
  }
}

const plain = validVectors.filter((v) => !(v.message as { reliable?: boolean }).reliable && !('rudp' in (v.message as object)));
const reliable = validVectors.filter((v) => !plain.includes(v));
/** Value bytes of every vector, worked out by hand from PROTOCOL.md §5. */
const VALUE_BYTES: Record<string, number> = {
  'readings-one-float32': 4,
  'readings-batch-10-mixed': 39, // PROTOCOL.md §12.2
  // bool 1, int8 1, int16 2, int32 4, int64 8, uint8 1, uint16 2, uint32 4, uint64 8, float32 4,
  // float64 8, string "Hola, mundo ✓" 1+15, bytes deadbeef 1+4, timestamp 8, geo 8
  'readings-every-type': 80,
  // string "" 1, bytes "" 1, geo 8, float64 8, float64 8, int64 8, timestamp 8
  'readings-edges': 42,
  'readings-authenticated': 2,
  'readings-rudp': 1,
};

describe('overhead: single messages', () => {
  it('splits readings-one-float32 (19 bytes) as PROTOCOL.md does: header 5, values 4', () => {
    const flow = only(analyze(udpFrames(40000, 7878, [vector('readings-one-float32')])));
    assert.equal(flow.transport, 'udp');
    assert.equal(flow.bytes, 14 + 20 + 8 + 19);
    assert.deepEqual(flow.layers, {
      link: 14, ip: 20, transport: 8, framing: 0, header: 5, body: 10, values: 4, tag: 0, malformed: 0, undecoded: 0, trailer: 0,
    });
    assert.equal(flow.readings, 1);
    assert.equal(flow.derived.bytesPerReading, 61);
    assert.equal(flow.derived.efficiency, 4 / 61);
  });

  it('splits readings-batch-10-mixed (82 bytes): 39 value bytes, 12 of header, base time and count, 31 per-reading', () => {
    const flow = only(analyze(udpFrames(40000, 7878, [vector('readings-batch-10-mixed')])));
    assert.equal(flow.layers.header, 5);
    assert.equal(flow.layers.values, 39);
    assert.equal(flow.layers.body, 7 + 31);
    assert.equal(flow.readings, 10);
  });

  it('counts the 8-byte tag of readings-authenticated apart', () => {
    const flow = only(analyze(udpFrames(40000, 7878, [vector('readings-authenticated')])));
    assert.equal(flow.layers.tag, 8);
    assert.equal(flow.layers.header + flow.layers.body + flow.layers.values + flow.layers.tag, 25);
  });

  it('pads a short Ethernet frame: the padding is trailer', () => {
    const frame = udpFrames(40000, 7878, [vector('ping')])[0]!;
    const padded = Uint8Array.from([...frame, ...new Uint8Array(60 - frame.length)]);
    const flow = only(analyze([padded]));
    assert.equal(flow.bytes, 60);
    assert.equal(flow.layers.trailer, 60 - frame.length);
    assert.equal(layerTotal(flow.layers), 60);
  });
});

describe('overhead: every vector', () => {
  const headerBytes = (vs: typeof validVectors): number => vs.reduce((n, v) => n + decodeHeader(fromHex(v.hex)).length, 0);
  const messageBytes = (vs: typeof validVectors): number => vs.reduce((n, v) => n + v.hex.length / 2, 0);
  const valueBytes = (vs: typeof validVectors): number => vs.reduce((n, v) => n + (VALUE_BYTES[v.name] ?? 0), 0);
  const tags = (vs: typeof validVectors): number => vs.filter((v) => 'tag' in (v.message as object)).length;
  const readings = (vs: typeof validVectors): number =>
    vs.reduce((n, v) => n + ((v.message as { readings?: unknown[] }).readings?.length ?? 0), 0);

  it('over UDP: plain ones make a udp flow, RELIABLE ones an rudp flow, every byte in its layer', () => {
    const report = analyze([
      ...udpFrames(40000, 7878, plain.map((v) => fromHex(v.hex))),
      ...udpFrames(40001, 7878, reliable.map((v) => fromHex(v.hex))),
    ]);
    checkSums(report);
    const [udp, rudp] = report.flows;
    assert.equal(udp?.transport, 'udp');
    assert.equal(rudp?.transport, 'rudp');
    for (const [flow, vs] of [[udp!, plain], [rudp!, reliable]] as const) {
      assert.equal(flow.layers.header, headerBytes(vs));
      assert.equal(flow.layers.values, valueBytes(vs));
      assert.equal(flow.layers.tag, 8 * tags(vs));
      assert.equal(flow.layers.header + flow.layers.body + flow.layers.values + flow.layers.tag, messageBytes(vs));
      assert.equal(flow.readings, readings(vs));
      assert.equal(flow.frames, vs.length);
      for (const type of ['HELLO', 'READINGS', 'ACK', 'CONFIG', 'ERROR', 'PING', 'PONG', 'BYE'] as const) {
        assert.equal(flow.messages[type], vs.filter((v) => (v.message as { type: string }).type === type).length, type);
      }
    }
    assert.deepEqual(report.transports.map((t) => t.transport), ['udp', 'rudp']);
    assert.equal(report.total.layers.values, valueBytes(validVectors));
  });

  for (const segment of [1, 7, 1500]) {
    it(`over one TCP connection in ${segment}-byte segments: prefixes, headers, values and tags`, () => {
      const stream = Uint8Array.from(Buffer.concat(validVectors.map((v) => fromHex(v.frame))));
      const report = analyze(tcpFrames({ clientPort: 40000, serverPort: 7878, stream, segment }));
      checkSums(report);
      const flow = only(report);
      assert.equal(flow.transport, 'tcp');
      assert.equal(flow.layers.framing, validVectors.reduce((n, v) => n + (v.frame.length - v.hex.length) / 2, 0));
      assert.equal(flow.layers.header, headerBytes(validVectors));
      assert.equal(flow.layers.values, valueBytes(validVectors));
      assert.equal(flow.layers.tag, 8 * tags(validVectors));
      assert.equal(flow.layers.framing + flow.layers.header + flow.layers.body + flow.layers.values + flow.layers.tag, stream.length);
      assert.equal(flow.readings, readings(validVectors));
      assert.equal(Object.values(flow.messages).reduce((a, b) => a + b, 0), validVectors.length);
      assert.equal(flow.segments.data.frames, Math.ceil(stream.length / segment));
      assert.equal(flow.cost.handshake.frames, 3);
      assert.equal(flow.cost.teardown.frames, 3);
      assert.equal(flow.segments.syn.frames + flow.segments.synAck.frames + flow.segments.fin.frames, 4);
      assert.equal(flow.tcpRetransmissions.frames, 0);
    });
  }
});

describe('overhead: TCP details', () => {
  it('counts a retransmitted segment and its bytes, on the wire in every layer, the message once', () => {
    const stream = fromHex(validVectors.find((v) => v.name === 'readings-batch-10-mixed')!.frame);
    const once = only(analyze(tcpFrames({ clientPort: 40000, serverPort: 7878, stream, segment: 100 })));
    const twice = only(analyze(tcpFrames({ clientPort: 40000, serverPort: 7878, stream, segment: 100, resend: [0] })));
    assert.equal(twice.tcpRetransmissions.frames, 1);
    assert.equal(twice.tcpRetransmissions.payloadBytes, stream.length);
    assert.equal(twice.tcpRetransmissions.bytes, 54 + stream.length);
    assert.equal(twice.layers.values, 2 * once.layers.values);
    assert.equal(twice.bytes - once.bytes, twice.tcpRetransmissions.bytes);
    assert.equal(twice.messages.READINGS, 1);
    assert.equal(twice.readings, 10);
    assert.equal(twice.resent.frames, 0, 'a TCP retransmission is not a resent READINGS');
  });

  it('splits the one-off cost: handshake, HELLO and its ACK, BYE and its ACK, teardown', () => {
    const hello = validVectors.find((v) => v.name === 'hello-one-sensor')!;
    const readings = validVectors.find((v) => v.name === 'readings-one-float32')!;
    const bye = validVectors.find((v) => v.name === 'bye')!;
    const stream = Uint8Array.from(Buffer.concat([hello, readings, bye].map((v) => fromHex(v.frame))));
    // One message per segment: the HELLO's segment and the BYE's are session cost, with the server's ACKs of them.
    const segment = [hello, readings, bye].map((v) => v.frame.length / 2);
    const flow = only(analyze(tcpFrames({ clientPort: 40000, serverPort: 7878, stream, segment })));
    assert.equal(flow.cost.handshake.frames, 3);
    assert.equal(flow.cost.teardown.frames, 3);
    // HELLO + its pure ACK, BYE + its pure ACK
    assert.equal(flow.cost.session.frames, 4);
    // READINGS + its pure ACK
    assert.equal(flow.cost.steady.frames, 2);
    assert.equal(flow.derived.oneOff.frames, 10);
  });

  it('counts the malformed stream vectors, and the bytes after a bad prefix as malformed', () => {
    for (const v of streamInvalidVectors) {
      const stream = fromHex(v.hex);
      const flow = only(analyze(tcpFrames({ clientPort: 40000, serverPort: 7878, stream, segment: 3 })));
      assert.equal(flow.malformed.messages, 1, v.name);
      assert.deepEqual(flow.malformed.codes, { [v.error]: 1 }, v.name);
      assert.equal(Object.values(flow.messages).reduce((a, b) => a + b, 0), v.framesBefore, v.name);
      assert.equal(flow.layers.malformed, stream.length - v.offset, v.name);
      assert.equal(layerTotal(flow.layers), flow.bytes);
    }
  });
});

describe('overhead: malformed datagrams, ports, files', () => {
  it('counts every malformed vector as a malformed datagram with its error', () => {
    const flow = only(analyze(udpFrames(40000, 7878, invalidVectors.map((v) => fromHex(v.hex)))));
    assert.equal(flow.malformed.messages, invalidVectors.length);
    const expected: Record<string, number> = {};
    for (const v of invalidVectors) expected[v.error] = (expected[v.error] ?? 0) + 1;
    assert.deepEqual(flow.malformed.codes, expected);
    assert.equal(flow.layers.malformed, invalidVectors.reduce((n, v) => n + v.hex.length / 2, 0));
    assert.equal(flow.layers.header + flow.layers.body + flow.layers.values, 0);
  });

  it('selects flows by port: 7878 by default, others when asked, TCP and UDP alike', () => {
    const frames = [
      ...udpFrames(40000, 9000, [vector('ping')]),
      ...tcpFrames({ clientPort: 40001, serverPort: 9001, stream: fromHex(validVectors[0]!.frame), segment: 100 }),
      ...udpFrames(40002, 7878, [vector('ping')]),
    ];
    assert.deepEqual(analyze(frames).flows.map((f) => f.b.port), [7878]);
    assert.deepEqual(analyze(frames, [9000, 9001]).flows.map((f) => [f.transport, f.server.port, f.device.port]), [
      ['udp', 9000, 40000],
      ['tcp', 9001, 40001],
    ]);
    const report = analyze(frames, [9000]);
    assert.equal(report.capture.frames, frames.length);
    assert.equal(report.selected.frames, 1);
  });

  it('counts the payload of a datagram cut by the snap length as undecoded', () => {
    const frame = udpFrames(40000, 7878, [vector('readings-batch-10-mixed')])[0]!;
    const capture = classicPcap({ order: 'little', linkType: 1, snapLength: 60, records: [{ data: frame.subarray(0, 60), originalLength: frame.length }] });
    const flow = only(analyzeCapture(readCapture(capture)));
    assert.equal(flow.bytes, frame.length);
    assert.equal(flow.layers.undecoded, 82);
    assert.equal(layerTotal(flow.layers), frame.length);
    assert.equal(flow.messages.READINGS + flow.malformed.messages, 0);
  });

  it('analyzes a file that ends in the middle of a record up to its last whole frame', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sensorwire-overhead-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const whole = pcapOf(udpFrames(40000, 7878, [vector('ping'), vector('pong'), vector('bye')]));
    const file = join(dir, 'cut.pcap');
    writeFileSync(file, whole.subarray(0, whole.length - 5));
    const report = analyzeFile(file);
    assert.match(report.truncated ?? '', /PCAP_TRUNCATED/);
    assert.equal(report.capture.frames, 2);
    writeFileSync(file, whole);
    assert.equal(analyzeFile(file).truncated, null);
  });
});

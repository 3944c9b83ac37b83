// Flow grouping, TCP segment classification, retransmission detection and reassembly on
// hand-built frames.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFlows, classifySegment, type Flow, FlowTable, TcpDirection } from '../../src/analysis/flows.ts';
import { LinkType } from '../../src/analysis/link-types.ts';
import { dissect, TcpFlag } from '../../src/analysis/packet.ts';
import { ethernet, ipv6, tcp, type TcpSpec, tcp4Frame, udp, udp4Frame } from './frames.ts';
import { hex } from './pcap-build.ts';

const { SYN, ACK, FIN, RST, PSH } = TcpFlag;
const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** A flow table fed with frames client→server (`c`) and server→client (`s`). */
function feed(frames: ({ from: 'c' | 's' } & TcpSpec)[], table = new FlowTable()): { table: FlowTable; verdicts: string[] } {
  const verdicts: string[] = [];
  frames.forEach((f, i) => {
    const frame = f.from === 'c' ? tcp4Frame(CLIENT, SERVER, f) : tcp4Frame(SERVER, CLIENT, f);
    const update = table.add(dissect(frame, LinkType.ETHERNET), BigInt(i) * 1000n, i);
    verdicts.push(update?.verdict ?? 'none');
  });
  return { table, verdicts };
}

function only(table: FlowTable): Flow {
  const flows = table.flows();
  assert.equal(flows.length, 1);
  const [flow] = flows;
  assert.ok(flow);
  return flow;
}

const C = 5000;
const S = 80;
/** Client ISN 1000, server ISN 9000. */
const handshake = [
  { from: 'c', sport: C, dport: S, seq: 1000, flags: SYN },
  { from: 's', sport: S, dport: C, seq: 9000, ack: 1001, flags: SYN | ACK },
  { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: ACK },
] as const;

describe('flows', () => {
  it('counts a whole connection per direction and classifies every segment', () => {
    const { table, verdicts } = feed([
      ...handshake,
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: PSH | ACK, payload: text('hello') },
      { from: 's', sport: S, dport: C, seq: 9001, ack: 1006, flags: ACK },
      { from: 's', sport: S, dport: C, seq: 9001, ack: 1006, flags: PSH | ACK, payload: text('world!') },
      { from: 'c', sport: C, dport: S, seq: 1006, ack: 9007, flags: FIN | ACK },
      { from: 's', sport: S, dport: C, seq: 9007, ack: 1007, flags: FIN | ACK },
      { from: 'c', sport: C, dport: S, seq: 1007, ack: 9008, flags: ACK },
    ]);
    const flow = only(table);
    assert.equal(flow.protocol, 'tcp');
    assert.deepEqual(flow.a, { address: CLIENT, port: C });
    assert.deepEqual(flow.b, { address: SERVER, port: S });
    assert.equal(flow.aToB.frames, 5);
    assert.equal(flow.bToA.frames, 4);
    assert.equal(flow.aToB.bytes, 5 * 54 + 5);
    assert.equal(flow.bToA.bytes, 4 * 54 + 6);
    assert.deepEqual(flow.aToB.layers, { link: 70, ip: 100, transport: 100, payload: 5, trailer: 0 });
    assert.deepEqual(flow.aToB.tcp, {
      syn: 1,
      synAck: 0,
      fin: 1,
      rst: 0,
      pureAck: 2,
      data: 1,
      retransmissions: 0,
      retransmittedBytes: 0,
      outOfOrder: 0,
      keepAlives: 0,
    });
    assert.equal(flow.bToA.tcp.synAck, 1);
    assert.equal(flow.bToA.tcp.pureAck, 1);
    assert.equal(new TextDecoder().decode(flow.aToB.stream?.bytes()), 'hello');
    assert.equal(new TextDecoder().decode(flow.bToA.stream?.bytes()), 'world!');
    assert.equal(flow.firstTimestampNs, 0n);
    assert.equal(flow.lastTimestampNs, 8000n);
    assert.deepEqual(flow.frameIndices, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(verdicts, ['new', 'new', 'empty', 'new', 'empty', 'new', 'new', 'new', 'empty']);
  });

  it('classifies single segments with a fixed precedence', () => {
    const kind = (flags: number, payload = 0): string => {
      const p = dissect(tcp4Frame(CLIENT, SERVER, { sport: 1, dport: 2, seq: 0, flags, payload: new Uint8Array(payload) }), 1);
      assert.ok(p.transport?.protocol === 'tcp');
      return classifySegment(p.transport, p.payloadLength);
    };
    assert.equal(kind(SYN), 'syn');
    assert.equal(kind(SYN | ACK), 'syn-ack');
    assert.equal(kind(FIN | ACK), 'fin');
    assert.equal(kind(FIN | ACK, 10), 'fin');
    assert.equal(kind(RST | ACK), 'rst');
    assert.equal(kind(RST), 'rst');
    assert.equal(kind(ACK), 'pure-ack');
    assert.equal(kind(PSH | ACK, 1), 'data');
    assert.equal(kind(0), 'other');
  });

  it('counts a FIN carrying data both as FIN and as data', () => {
    const { table } = feed([
      ...handshake,
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: FIN | PSH | ACK, payload: text('bye') },
    ]);
    const counts = only(table).aToB.tcp;
    assert.equal(counts.fin, 1);
    assert.equal(counts.data, 1);
    assert.equal(counts.pureAck, 1);
  });

  it('counts a segment whose range was already seen as a retransmission, once in the stream', () => {
    const data = { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: PSH | ACK, payload: text('abcdef') } as const;
    const { table, verdicts } = feed([...handshake, data, data, { ...data, seq: 1004, payload: text('def') }]);
    const flow = only(table);
    assert.deepEqual(verdicts.slice(3), ['new', 'retransmission', 'retransmission']);
    assert.equal(flow.aToB.tcp.retransmissions, 2);
    assert.equal(flow.aToB.tcp.retransmittedBytes, 9);
    assert.equal(flow.aToB.layers.payload, 15, 'every frame counts on the wire');
    assert.equal(new TextDecoder().decode(flow.aToB.stream?.bytes()), 'abcdef');
  });

  it('counts a repeated SYN as a retransmission', () => {
    const { table } = feed([handshake[0], handshake[0], handshake[1]]);
    assert.equal(only(table).aToB.tcp.retransmissions, 1);
    assert.equal(only(table).aToB.tcp.syn, 2);
  });

  it('tells out-of-order segments and partial overlaps from retransmissions, and reorders the stream', () => {
    const seg = (seq: number, s: string): { from: 'c' } & TcpSpec => ({
      from: 'c',
      sport: C,
      dport: S,
      seq,
      ack: 9001,
      flags: PSH | ACK,
      payload: text(s),
    });
    const { table, verdicts } = feed([
      ...handshake,
      seg(1005, 'EFGH'),
      seg(1001, 'ABCD'),
      seg(1011, 'KL'),
      seg(1007, 'GHIJ'), // overlaps what was seen and fills the gap before KL
      seg(1003, 'CDEF'), // already seen in full
    ]);
    assert.deepEqual(verdicts.slice(3), ['new', 'out-of-order', 'new', 'out-of-order', 'retransmission']);
    const flow = only(table);
    assert.equal(flow.aToB.tcp.outOfOrder, 2);
    assert.equal(flow.aToB.tcp.retransmissions, 1);
    assert.equal(new TextDecoder().decode(flow.aToB.stream?.bytes()), 'ABCDEFGHIJKL');
    assert.equal(flow.aToB.stream?.pendingBytes, 0);
  });

  it('recognises keep-alives', () => {
    const { table, verdicts } = feed([
      ...handshake,
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: PSH | ACK, payload: text('x') },
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: ACK, payload: text('x') },
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: ACK },
    ]);
    assert.deepEqual(verdicts.slice(3), ['new', 'keep-alive', 'keep-alive']);
    assert.equal(only(table).aToB.tcp.keepAlives, 2);
    assert.equal(only(table).aToB.tcp.retransmissions, 0);
  });

  it('handles sequence numbers that wrap around 2^32', () => {
    const isn = 0xffff_fffd;
    const { table, verdicts } = feed([
      { from: 'c', sport: C, dport: S, seq: isn, flags: SYN },
      { from: 'c', sport: C, dport: S, seq: isn + 1, ack: 1, flags: PSH | ACK, payload: text('abcd') },
      { from: 'c', sport: C, dport: S, seq: 2, ack: 1, flags: PSH | ACK, payload: text('efgh') },
      { from: 'c', sport: C, dport: S, seq: isn + 1, ack: 1, flags: PSH | ACK, payload: text('abcd') },
    ]);
    assert.deepEqual(verdicts, ['new', 'new', 'new', 'retransmission']);
    assert.equal(new TextDecoder().decode(only(table).aToB.stream?.bytes()), 'abcdefgh');
  });

  it('keeps at most the configured stream bytes and says where it stopped', () => {
    const table = new FlowTable({ streamLimits: { maxBytes: 4, maxPending: 8 } });
    const { table: t } = feed(
      [...handshake, { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: PSH | ACK, payload: text('abcdef') }],
      table,
    );
    const stream = only(t).aToB.stream;
    assert.equal(new TextDecoder().decode(stream?.bytes()), 'abcd');
    assert.equal(stream?.keptBytes, 4);
    assert.equal(stream?.lostFrom, 4);
  });

  it('stops reassembly at a payload the snap length cut', () => {
    const stream = new TcpDirection();
    stream.add({ seq: 100, syn: true, fin: false, rst: false, payloadLength: 0, payload: new Uint8Array(0) });
    stream.add({ seq: 101, syn: false, fin: false, rst: false, payloadLength: 6, payload: text('abc') });
    stream.add({ seq: 107, syn: false, fin: false, rst: false, payloadLength: 2, payload: text('gh') });
    assert.equal(new TextDecoder().decode(stream.bytes()), 'abc');
    assert.equal(stream.lostFrom, 3);
  });

  it('starts a new flow when a new SYN reuses the ports', () => {
    const { table } = feed([
      ...handshake,
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: RST },
      { from: 'c', sport: C, dport: S, seq: 555_555, flags: SYN },
      { from: 's', sport: S, dport: C, seq: 777, ack: 555_556, flags: SYN | ACK },
    ]);
    const flows = table.flows();
    assert.equal(flows.length, 2);
    assert.deepEqual(
      flows.map((f) => [f.id, f.aToB.frames, f.bToA.frames, f.aToB.tcp.rst]),
      [
        [0, 3, 1, 1],
        [1, 1, 1, 0],
      ],
    );
  });

  it('orients a flow by its first frame and merges both directions', () => {
    const { table } = feed([
      { from: 's', sport: S, dport: C, seq: 9001, ack: 1001, flags: ACK },
      { from: 'c', sport: C, dport: S, seq: 1001, ack: 9001, flags: ACK },
    ]);
    const flow = only(table);
    assert.deepEqual(flow.a, { address: SERVER, port: S });
    assert.equal(flow.aToB.frames, 1);
    assert.equal(flow.bToA.frames, 1);
  });

  it('keeps UDP datagrams per direction and IPv6 flows apart from IPv4 ones', () => {
    const frames = [
      udp4Frame(CLIENT, SERVER, 4000, 53, text('q1')),
      udp4Frame(SERVER, CLIENT, 53, 4000, text('answer')),
      udp4Frame(CLIENT, SERVER, 4000, 53, text('q2')),
      ethernet(0x86dd, ipv6(17, '2001:db8::1', '2001:db8::2', udp(4000, 53, text('v6')))),
      hex('ffffffffffff 020000000001 0806' + '00'.repeat(28)),
    ];
    const records = frames.map((data, index) => ({
      index,
      timestampNs: BigInt(index),
      linkType: LinkType.ETHERNET,
      capturedLength: data.length,
      originalLength: data.length,
      data,
      interfaceId: 0,
      fileOffset: 0,
    }));
    const table = buildFlows(records);
    const [v4, v6] = table.flows();
    assert.ok(v4 && v6);
    assert.equal(v4.protocol, 'udp');
    assert.deepEqual(
      v4.aToB.datagrams.map((d) => new TextDecoder().decode(d.payload)),
      ['q1', 'q2'],
    );
    assert.deepEqual(
      v4.bToA.datagrams.map((d) => d.length),
      [6],
    );
    assert.equal(v4.aToB.stream, null);
    assert.deepEqual(v6.a, { address: '2001:db8::1', port: 4000 });
    assert.deepEqual(table.unattributed, { frames: 1, bytes: 42 });
  });

  it('limits the UDP payload bytes it keeps', () => {
    const table = new FlowTable({ maxDatagramBytes: 5 });
    for (const s of ['abc', 'de', 'f']) table.add(dissect(udp4Frame(CLIENT, SERVER, 1, 2, text(s)), 1));
    const flow = only(table);
    assert.equal(flow.aToB.datagrams.length, 2);
    assert.equal(flow.aToB.datagramsDropped, 1);
    assert.equal(flow.aToB.frames, 3);
  });

  it('leaves TCP frames with a cut header out, as tshark does, unless asked', () => {
    const syn = tcp4Frame(CLIENT, SERVER, {
      sport: C,
      dport: S,
      seq: 1,
      flags: SYN,
      options: hex('020405b4 0402 080a0000000100000000 01 030307'),
    });
    const cut = dissect(syn.subarray(0, 60), LinkType.ETHERNET, syn.length);
    const strict = new FlowTable();
    assert.equal(strict.add(cut), null);
    assert.equal(strict.truncatedHeaders, 1);
    assert.deepEqual(strict.unattributed, { frames: 1, bytes: 74 });
    const lenient = new FlowTable({ countTruncatedHeaders: true });
    assert.notEqual(lenient.add(cut), null);
    assert.equal(only(lenient).aToB.bytes, 74);
  });
});

describe('frames built for these tests', () => {
  it('are what the dissector expects', () => {
    const frame = tcp4Frame(CLIENT, SERVER, { sport: 1, dport: 2, seq: 3, flags: ACK, payload: text('z') });
    const p = dissect(frame, LinkType.ETHERNET);
    assert.deepEqual(p.issues, []);
    assert.deepEqual(p.bytes, { link: 14, ip: 20, transport: 20, payload: 1, trailer: 0 });
    assert.deepEqual(tcp({ sport: 1, dport: 2, seq: 3, flags: ACK }).length, 20);
  });
});

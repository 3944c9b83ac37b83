// Real captures: tcpdump records TCP and UDP exchanges between node sockets on the loopback
// interface (IPv4 and IPv6), on 'lo' as Ethernet and on 'any' as Linux cooked v1 and v2.
// editcap, mergecap and small byte-swappers derive the other formats. Every file is read with
// our reader and checked against tshark reading the same file: frame lengths and timestamps,
// per-frame header fields, and the conversation tables (-z conv,tcp / conv,udp), which must
// match exactly. Reassembled streams are checked against the bytes the test really sent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFlows, type Flow, FlowTable } from '../../src/analysis/flows.ts';
import { type CaptureFile, readCaptureFile } from '../../src/analysis/pcap.ts';
import { dissectRecord, type Packet } from '../../src/analysis/packet.ts';
import { formatEpochNs } from '../../src/analysis/time.ts';
import { type RunningCapture, startCapture } from '../support/capture.ts';
import { command, requireAll, root } from '../support/requires.ts';
import { tcp4Frame } from './frames.ts';
import { concat, duplicateClassicRecords, epb, hex, idb, opb, shb, spb, swapClassicPcap, swapPcapng } from './pcap-build.ts';
import { type ConversationRow, tsharkConversations, tsharkFields, tsharkSize } from './tshark.ts';
import {
  type Exchange,
  payload,
  TcpPeer,
  tcpBulk,
  tcpEcho,
  tcpReset,
  UdpEcho,
  udpEcho,
} from './traffic.ts';

const TIMEOUT_MS = 120_000;

function tool(name: string, args: string[]): void {
  execFileSync(name, args, { stdio: 'ignore', timeout: 60_000 });
}

function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** "address:port" as tshark's conversation table prints an endpoint. */
function endpoint(address: string, port: number): string {
  return `${address}:${port}`;
}

/** A time as Wireshark's nstime_to_sec() makes it a double: seconds plus nanoseconds / 1e9. */
const nstimeToSec = (ns: bigint): number => Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;

/**
 * A conversation's duration as tshark prints it: the difference of the two relative times, each
 * a double already, with four decimals (tap-iousers.c). Rounding the exact difference instead
 * gives another last digit now and then (0.0022 against tshark's 0.0023).
 */
function tsharkDuration(startNs: bigint, endNs: bigint): string {
  return (nstimeToSec(endNs) - nstimeToSec(startNs)).toFixed(4);
}

function ourConversations(capture: CaptureFile, table: FlowTable, protocol: 'tcp' | 'udp'): ConversationRow[] {
  const first = capture.records[0]?.timestampNs ?? 0n;
  return table
    .flows()
    .filter((f) => f.protocol === protocol)
    .map((f) => {
      const start = f.firstTimestampNs ?? 0n;
      const end = f.lastTimestampNs ?? 0n;
      return {
        a: endpoint(f.a.address, f.a.port),
        b: endpoint(f.b.address, f.b.port),
        framesBtoA: f.bToA.frames,
        bytesBtoA: tsharkSize(f.bToA.bytes),
        framesAtoB: f.aToB.frames,
        bytesAtoB: tsharkSize(f.aToB.bytes),
        frames: f.aToB.frames + f.bToA.frames,
        bytes: tsharkSize(f.aToB.bytes + f.bToA.bytes),
        relativeStart: formatEpochNs(start - first),
        duration: tsharkDuration(start - first, end - first),
      };
    });
}

function sortRows(rows: ConversationRow[]): ConversationRow[] {
  return [...rows].sort((x, y) => `${x.a} ${x.b}`.localeCompare(`${y.a} ${y.b}`));
}

/** Per-frame fields compared with tshark, in tshark's -T fields text form. */
const FIELDS = [
  'frame.len',
  'frame.cap_len',
  'frame.time_epoch',
  'ip.src',
  'ip.dst',
  'ip.hdr_len',
  'ip.len',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.plen',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.hdr_len',
  'tcp.len',
  'tcp.flags',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.window_size_value',
  'tcp.options.mss_val',
  'tcp.options.wscale.shift',
  'tcp.options.timestamp.tsval',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
] as const;

function ourFields(capture: CaptureFile): string[][] {
  return capture.records.map((record) => {
    const p: Packet = dissectRecord(record);
    const ip = p.ip;
    const v4 = ip?.version === 4 ? ip : null;
    const v6 = ip?.version === 6 ? ip : null;
    const tcp = p.transport?.protocol === 'tcp' ? p.transport : null;
    const udp = p.transport?.protocol === 'udp' ? p.transport : null;
    const s = (v: number | string | undefined | null): string => (v === undefined || v === null ? '' : String(v));
    return [
      s(record.originalLength),
      s(record.capturedLength),
      record.timestampNs === null ? '' : formatEpochNs(record.timestampNs),
      s(v4?.source),
      s(v4?.destination),
      s(v4?.headerLength),
      s(v4?.totalLengthField),
      s(v6?.source),
      s(v6?.destination),
      s(v6?.payloadLengthField),
      s(tcp?.sourcePort),
      s(tcp?.destinationPort),
      s(tcp?.headerLength),
      tcp === null ? '' : s(p.bytes.payload),
      tcp === null ? '' : `0x${tcp.flags.toString(16).padStart(4, '0')}`,
      s(tcp?.seq),
      s(tcp?.ack),
      s(tcp?.window),
      s(tcp?.mss),
      s(tcp?.windowScale),
      s(tcp?.timestamp?.value),
      s(udp?.sourcePort),
      s(udp?.destinationPort),
      s(udp?.lengthField),
    ];
  });
}

function findFlow(table: FlowTable, exchange: Exchange): Flow {
  const flow = table
    .flows()
    .find(
      (f) =>
        f.protocol === exchange.protocol &&
        f.a.port === exchange.clientPort &&
        f.b.port === exchange.serverPort &&
        f.a.address === exchange.host,
    );
  assert.ok(flow, `flow ${exchange.protocol} ${exchange.host} ${exchange.clientPort} -> ${exchange.serverPort}`);
  return flow;
}

describe('capture reader and flows against tcpdump and tshark', { timeout: TIMEOUT_MS }, () => {
  let dir = '';
  const captures: RunningCapture[] = [];
  const peers: { close(): unknown }[] = [];
  const exchanges = new Map<string, Exchange>();
  /** Files to check, by name. */
  const files = new Map<string, string>();
  const fileOf = (name: string): string => {
    const file = files.get(name);
    assert.ok(file !== undefined, `no capture file named ${name}`);
    return file;
  };
  /** Runs `check` for the named files concurrently (tshark is slow to start). */
  const eachFile = async (
    names: readonly string[],
    check: (name: string, file: string) => Promise<void>,
  ): Promise<void> => {
    await Promise.all(names.map((name) => check(name, fileOf(name))));
  };

  before(async () => {
    requireAll(root, command('tcpdump'), command('tshark'), command('editcap', 'tshark'), command('mergecap', 'tshark'));
    dir = mkdtempSync(join(tmpdir(), 'sensorwire-capture-'));

    const echo4 = await TcpPeer.open('127.0.0.1', 'echo');
    const echo6 = await TcpPeer.open('::1', 'echo');
    const sink4 = await TcpPeer.open('127.0.0.1', 'sink');
    const reset4 = await TcpPeer.open('127.0.0.1', 'reset');
    const udp4 = await UdpEcho.open('127.0.0.1');
    const udp6 = await UdpEcho.open('::1');
    peers.push(echo4, echo6, sink4, reset4, udp4, udp6);
    const filter = [
      ...[echo4, echo6, sink4, reset4].map((p) => `tcp port ${p.port}`),
      ...[udp4, udp6].map((p) => `udp port ${p.port}`),
    ].join(' or ');

    const variants = [
      { name: 'lo', interface: 'lo', linkType: 'EN10MB' },
      { name: 'sll', interface: 'any', linkType: 'LINUX_SLL' },
      { name: 'sll2', interface: 'any', linkType: 'LINUX_SLL2' },
    ];
    for (const v of variants) {
      const file = join(dir, `${v.name}.pcap`);
      captures.push(await startCapture({ interface: v.interface, linkType: v.linkType, filter, file }));
      files.set(v.name, file);
    }

    exchanges.set('tcp4', await tcpEcho(echo4, [payload(1), payload(100), payload(1400), payload(5000)]));
    exchanges.set('tcp6', await tcpEcho(echo6, [payload(7), payload(2000)]));
    exchanges.set('bulk', await tcpBulk(sink4, payload(300_000)));
    exchanges.set('reset', await tcpReset(reset4, payload(10)));
    exchanges.set('udp4', await udpEcho(udp4, [payload(1), payload(50), payload(1472), payload(8000)]));
    exchanges.set('udp6', await udpEcho(udp6, [payload(20), payload(300)]));

    for (const c of captures) {
      const stats = await c.stop();
      assert.equal(stats.droppedByKernel, 0, `tcpdump dropped packets: ${stats.stderr}`);
    }

    // Derived files.
    const lo = fileOf('lo');
    const add = (name: string, make: (out: string) => void): void => {
      const out = join(dir, name);
      make(out);
      files.set(name, out);
    };
    add('lo-us.pcap', (out) => tool('editcap', ['-F', 'pcap', lo, out]));
    add('lo-ns.pcap', (out) => tool('editcap', ['-F', 'nsecpcap', lo, out]));
    add('lo.pcapng', (out) => tool('editcap', ['-F', 'pcapng', lo, out]));
    add('sll2.pcapng', (out) => tool('editcap', ['-F', 'pcapng', files.get('sll2') ?? '', out]));
    add('lo-be.pcap', (out) => writeFileSync(out, swapClassicPcap(readFileSync(lo))));
    add('lo-ns-be.pcap', (out) => writeFileSync(out, swapClassicPcap(readFileSync(join(dir, 'lo-ns.pcap')))));
    add('lo-be.pcapng', (out) => writeFileSync(out, swapPcapng(readFileSync(join(dir, 'lo.pcapng')))));
    add('lo-snap70.pcap', (out) => tool('editcap', ['-s', '70', lo, out]));
    add('merged.pcapng', (out) =>
      tool('mergecap', ['-F', 'pcapng', '-w', out, lo, files.get('sll') ?? '', files.get('sll2') ?? '']),
    );
  });

  after(async () => {
    for (const c of captures) c.kill();
    for (const p of peers) await p.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('captured every exchange on every link type', () => {
    const expectedLinkTypes: Record<string, number> = { lo: 1, sll: 113, sll2: 276 };
    for (const [name, linkType] of Object.entries(expectedLinkTypes)) {
      const capture = readCaptureFile(fileOf(name));
      assert.equal(capture.format, 'pcap');
      assert.deepEqual([...new Set(capture.records.map((r) => r.linkType))], [linkType], name);
      const table = buildFlows(capture.records);
      for (const exchange of exchanges.values()) findFlow(table, exchange);
    }
  });

  it('reads the formats with the byte order and link types it should', () => {
    const expect: Record<string, { format: string; byteOrder: string; interfaces: number }> = {
      'lo-us.pcap': { format: 'pcap', byteOrder: 'little', interfaces: 1 },
      'lo-ns.pcap': { format: 'pcap', byteOrder: 'little', interfaces: 1 },
      'lo-be.pcap': { format: 'pcap', byteOrder: 'big', interfaces: 1 },
      'lo-ns-be.pcap': { format: 'pcap', byteOrder: 'big', interfaces: 1 },
      'lo.pcapng': { format: 'pcapng', byteOrder: 'little', interfaces: 1 },
      'lo-be.pcapng': { format: 'pcapng', byteOrder: 'big', interfaces: 1 },
      'merged.pcapng': { format: 'pcapng', byteOrder: 'little', interfaces: 3 },
    };
    for (const [name, e] of Object.entries(expect)) {
      const capture = readCaptureFile(fileOf(name));
      assert.deepEqual(
        { format: capture.format, byteOrder: capture.byteOrder, interfaces: capture.interfaces.length },
        e,
        name,
      );
    }
    const merged = readCaptureFile(fileOf('merged.pcapng'));
    assert.deepEqual(
      merged.interfaces.map((i) => i.linkType),
      [1, 113, 276],
    );
    assert.deepEqual(new Set(merged.records.map((r) => r.interfaceId)), new Set([0, 1, 2]));
  });

  it('matches tshark frame by frame: lengths, timestamps and header fields', async () => {
    await eachFile([...files.keys()], async (name, file) => {
      const capture = readCaptureFile(file);
      const theirs = await tsharkFields(file, FIELDS);
      assert.equal(capture.records.length, theirs.length, `${name}: frame count`);
      assert.ok(capture.records.length > 30, `${name}: a real capture`);
      const ours = ourFields(capture);
      for (let i = 0; i < theirs.length; i++) {
        // A 70-byte snap length cuts TCP headers short: there, compare up to the IP layer.
        const columns = name.includes('snap') ? FIELDS.indexOf('tcp.srcport') : FIELDS.length;
        assert.deepEqual(
          ours[i]?.slice(0, columns),
          theirs[i]?.slice(0, columns),
          `${name} frame ${i + 1}: ${FIELDS.slice(0, columns).join(' ')}`,
        );
      }
    });
  });

  it('matches the pcapng interface ids tshark reports', async () => {
    await eachFile(['lo.pcapng', 'merged.pcapng', 'lo-be.pcapng'], async (name, file) => {
      const theirs = (await tsharkFields(file, ['frame.interface_id'])).map((row) => Number(row[0]));
      assert.deepEqual(
        readCaptureFile(file).records.map((r) => r.interfaceId),
        theirs,
        name,
      );
    });
  });

  it('gives the same conversation totals as tshark -z conv,tcp and conv,udp, exactly', async () => {
    await eachFile([...files.keys()], async (name, file) => {
      const capture = readCaptureFile(file);
      const table = buildFlows(capture.records);
      const tables = await tsharkConversations(file);
      for (const protocol of ['tcp', 'udp'] as const) {
        const theirs = sortRows(tables[protocol]);
        assert.ok(theirs.length >= 2, `${name} ${protocol}: tshark lists conversations`);
        assert.deepEqual(sortRows(ourConversations(capture, table, protocol)), theirs, `${name} conv,${protocol}`);
      }
    });
  });

  it('sums the same bytes as tshark for every flow, to the byte', async () => {
    // Not the snap-length file: there tshark gives frames with a cut TCP header a stream
    // number but leaves them out of its conversation table (which the test above matches).
    await eachFile(['lo', 'sll', 'sll2', 'lo-ns-be.pcap', 'merged.pcapng'], async (name, file) => {
      const table = buildFlows(readCaptureFile(file).records);
      const rows = await tsharkFields(file, ['frame.len', 'tcp.stream', 'udp.stream'], 'tcp or udp');
      for (const protocol of ['tcp', 'udp'] as const) {
        const column = protocol === 'tcp' ? 1 : 2;
        const theirs = new Map<string, { frames: number; bytes: number }>();
        for (const row of rows) {
          const key = row[column] ?? '';
          if (key === '') continue;
          const entry = theirs.get(key) ?? { frames: 0, bytes: 0 };
          entry.frames++;
          entry.bytes += Number(row[0]);
          theirs.set(key, entry);
        }
        const ours = table
          .flows()
          .filter((f) => f.protocol === protocol)
          .map((f) => ({ frames: f.aToB.frames + f.bToA.frames, bytes: f.aToB.bytes + f.bToA.bytes }));
        const order = (xs: { frames: number; bytes: number }[]): string[] =>
          xs.map((x) => `${x.frames}/${x.bytes}`).sort();
        assert.deepEqual(order(ours), order([...theirs.values()]), `${name} ${protocol} streams`);
        for (const f of table.flows()) {
          for (const d of [f.aToB, f.bToA]) {
            const l = d.layers;
            assert.equal(l.link + l.ip + l.transport + l.payload + l.trailer, d.bytes, `${name}: layer split of a flow`);
          }
        }
      }
    });
  });

  it('classifies the TCP segments and reassembles what was sent', () => {
    for (const name of ['lo', 'sll', 'sll2', 'lo.pcapng', 'lo-be.pcapng']) {
      const table = buildFlows(readCaptureFile(fileOf(name)).records);
      for (const key of ['tcp4', 'tcp6', 'bulk']) {
        const exchange = exchanges.get(key);
        assert.ok(exchange);
        const flow = findFlow(table, exchange);
        assert.equal(flow.aToB.tcp.syn, 1, `${name} ${key}: one SYN`);
        assert.equal(flow.bToA.tcp.synAck, 1, `${name} ${key}: one SYN-ACK`);
        assert.equal(flow.aToB.tcp.fin, 1, `${name} ${key}: client FIN`);
        assert.equal(flow.bToA.tcp.fin, 1, `${name} ${key}: server FIN`);
        assert.equal(flow.aToB.tcp.rst + flow.bToA.tcp.rst, 0);
        assert.ok(flow.aToB.tcp.pureAck + flow.bToA.tcp.pureAck >= 1, `${name} ${key}: pure ACKs`);
        assert.deepEqual(flow.aToB.stream?.bytes(), concatAll(exchange.clientToServer), `${name} ${key}: client stream`);
        assert.deepEqual(flow.bToA.stream?.bytes(), concatAll(exchange.serverToClient), `${name} ${key}: server stream`);
        // Loopback does retransmit now and then under load; those bytes are counted twice.
        assert.equal(
          flow.aToB.layers.payload - flow.aToB.tcp.retransmittedBytes,
          concatAll(exchange.clientToServer).length,
        );
        assert.equal(flow.aToB.stream?.lostFrom, null);
      }
      const reset = exchanges.get('reset');
      assert.ok(reset);
      const flow = findFlow(table, reset);
      assert.equal(flow.bToA.tcp.rst, 1, `${name}: server reset`);
      assert.deepEqual(flow.aToB.stream?.bytes(), concatAll(reset.clientToServer));
    }
  });

  it('keeps UDP datagrams whole and in order', () => {
    const table = buildFlows(readCaptureFile(fileOf('lo')).records);
    for (const key of ['udp4', 'udp6']) {
      const exchange = exchanges.get(key);
      assert.ok(exchange);
      const flow = findFlow(table, exchange);
      assert.deepEqual(
        flow.aToB.datagrams.map((d) => d.payload),
        exchange.clientToServer,
      );
      assert.deepEqual(
        flow.bToA.datagrams.map((d) => d.payload),
        exchange.serverToClient,
      );
      assert.equal(flow.aToB.layers.transport, 8 * exchange.clientToServer.length);
    }
  });

  it('counts duplicated data frames as retransmissions, as tshark does, and still reassembles', async () => {
    const lo = fileOf('lo');
    const dataFrames = (await tsharkFields(lo, ['frame.number'], 'tcp.len > 0')).map((row) => Number(row[0]) - 1);
    const chosen = new Set(dataFrames.filter((_, i) => i % 3 === 0));
    assert.ok(chosen.size >= 3);
    const file = join(dir, 'retransmitted.pcap');
    writeFileSync(file, duplicateClassicRecords(readFileSync(lo), chosen));
    const theirs = (
      await tsharkFields(
        file,
        ['frame.number'],
        'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission',
      )
    ).map((row) => Number(row[0]) - 1);
    const table = new FlowTable();
    const ours: number[] = [];
    const keepAlives: number[] = [];
    for (const record of readCaptureFile(file).records) {
      const update = table.add(dissectRecord(record), record.timestampNs, record.index);
      if (update?.verdict === 'retransmission') ours.push(record.index);
      if (update?.verdict === 'keep-alive') keepAlives.push(record.index);
    }
    assert.deepEqual(ours, theirs, 'the same frames are retransmissions');
    // Each copy follows its original; a copied 1-byte segment looks like a keep-alive, to
    // tshark and to us. (The capture may hold real retransmissions too.)
    const sorted = [...chosen].sort((x, y) => x - y);
    for (const [k, original] of sorted.entries()) {
      const copy = original + k + 1;
      assert.ok(ours.includes(copy) || keepAlives.includes(copy), `copy of frame ${original + 1} is frame ${copy + 1}`);
    }
    const total = table.flows().reduce((n, f) => n + f.aToB.tcp.retransmissions + f.bToA.tcp.retransmissions, 0);
    assert.equal(total, ours.length);
    const tcp4 = exchanges.get('tcp4');
    assert.ok(tcp4);
    assert.deepEqual(findFlow(table, tcp4).aToB.stream?.bytes(), concatAll(tcp4.clientToServer));
  });

  it('reports truncated frames with their captured and original lengths', () => {
    const capture = readCaptureFile(fileOf('lo-snap70.pcap'));
    const truncated = capture.records.filter((r) => r.capturedLength < r.originalLength);
    assert.ok(truncated.length > 10);
    for (const record of truncated) {
      assert.equal(record.capturedLength, 70);
      const p = dissectRecord(record);
      assert.equal(p.truncated, true);
      const b = p.bytes;
      assert.equal(b.link + b.ip + b.transport + b.payload + b.trailer, record.originalLength);
      assert.ok(p.payload.length <= p.payloadLength);
    }
    const bulk = exchanges.get('bulk');
    assert.ok(bulk);
    const flow = findFlow(buildFlows(capture.records), bulk);
    assert.equal(
      flow.aToB.layers.payload - flow.aToB.tcp.retransmittedBytes,
      300_000,
      'payload counted from the IP length, not the captured bytes',
    );
    assert.notEqual(flow.aToB.stream?.lostFrom, null, 'the stream knows it lost bytes');
  });
});

describe('hand-built captures against tshark', () => {
  it('reads multi-section pcapng files in both byte orders as tshark does', async () => {
    requireAll(command('tshark'));
    const dir = mkdtempSync(join(tmpdir(), 'sensorwire-pcapng-'));
    try {
      const frame = tcp4Frame('10.0.0.1', '10.0.0.2', { sport: 1, dport: 2, seq: 3, flags: 0x18, payload: hex('aabbcc') });
      for (const [first, second] of [
        ['little', 'big'],
        ['big', 'little'],
      ] as const) {
        const file = join(dir, `${first}.pcapng`);
        writeFileSync(
          file,
          concat(
            shb(first),
            idb(first, 1, { snapLength: 262144, name: 'eth0' }),
            idb(first, 101, { tsresol: 9 }),
            epb(first, 0, 1_700_000_000_123_456n, frame),
            epb(first, 1, 1_700_000_000_123_456_789n, frame.subarray(14, 40), 100),
            spb(first, frame, frame.length),
            shb(second),
            idb(second, 1, { tsresol: 0x80 | 20, tsoffset: 100n, snapLength: 50 }),
            epb(second, 0, 3n * 2n ** 20n + 2n ** 19n, frame.subarray(0, 50), frame.length),
            opb(second, 0, 2n ** 20n, frame),
            // An SPB holds min(original length, snap length) bytes.
            spb(second, frame.subarray(0, 50), frame.length),
          ),
        );
        const theirs = await tsharkFields(file, ['frame.len', 'frame.cap_len', 'frame.time_epoch', 'ip.len', 'ip.src']);
        const ours = readCaptureFile(file).records.map((r) => {
          const p = dissectRecord(r);
          return [
            String(r.originalLength),
            String(r.capturedLength),
            r.timestampNs === null ? '' : formatEpochNs(r.timestampNs),
            p.ip?.version === 4 ? String(p.ip.totalLengthField) : '',
            p.ip?.source ?? '',
          ];
        });
        assert.deepEqual(ours, theirs, file);
        assert.equal(ours.length, 6);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The analyzer on real traffic: a spawned server, devices over TCP and UDP with batches of 1
// and 10, and an rudp exchange with a retransmission, captured by tcpdump on loopback. Every
// flow's frames and bytes must equal tshark's conversation tables and tshark's own per-frame
// lengths; every layer must equal the sum tshark gives for it; the READINGS counted must be
// those the devices report having sent; TCP pays a handshake and a teardown, UDP does not.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { layerTotal } from '../../src/analysis/overhead-counts.ts';
import { analyzeFile } from '../../src/analysis/overhead.ts';
import type { FlowReport, OverheadReport } from '../../src/analysis/overhead-types.ts';
import { LAYER_NAMES } from '../../src/analysis/overhead-types.ts';
import { SuiteCleanup } from '../support/cli.ts';
import { command, requireAll, root } from '../support/requires.ts';
import { captureSensorwire, type SensorwireCapture } from './overhead-traffic.ts';
import { tsharkConversations, tsharkFields, tsharkSize } from './tshark.ts';

const DEVICES = [
  { transport: 'tcp', id: 101, count: 20, batch: 1 },
  { transport: 'tcp', id: 102, count: 20, batch: 10 },
  { transport: 'udp', id: 201, count: 20, batch: 1 },
  { transport: 'udp', id: 202, count: 20, batch: 10 },
] as const;
const RUDP_DEVICE = 301;

/** What tshark says about one direction of one conversation, summed from its per-frame fields. */
interface TsharkDirection {
  frames: number;
  bytes: number;
  ipHeader: number;
  transportHeader: number;
  payload: number;
  trailer: number;
}

function emptyDirection(): TsharkDirection {
  return { frames: 0, bytes: 0, ipHeader: 0, transportHeader: 0, payload: 0, trailer: 0 };
}

/** Per flow ("proto srcport dstport" of its first frame's direction), per direction, from tshark -T fields. */
async function tsharkDirections(file: string): Promise<Map<string, TsharkDirection>> {
  const rows = await tsharkFields(file, [
    'frame.len', 'ip.hdr_len', 'ip.len', 'tcp.srcport', 'tcp.dstport', 'tcp.hdr_len', 'tcp.len',
    'udp.srcport', 'udp.dstport', 'udp.length',
  ]);
  const out = new Map<string, TsharkDirection>();
  for (const [len, ipHdr, ipLen, tsrc, tdst, thdr, tlen, usrc, udst, ulen] of rows) {
    const tcp = tsrc !== '' && tsrc !== undefined;
    const key = tcp ? `tcp ${tsrc} ${tdst}` : `udp ${usrc} ${udst}`;
    const d = out.get(key) ?? emptyDirection();
    d.frames++;
    d.bytes += Number(len);
    d.ipHeader += Number(ipHdr);
    d.transportHeader += tcp ? Number(thdr) : 8;
    d.payload += tcp ? Number(tlen) : Number(ulen) - 8;
    d.trailer += Number(len) - 14 - Number(ipLen);
    out.set(key, d);
  }
  return out;
}

function flowOf(report: OverheadReport, deviceId: number): FlowReport {
  const flows = report.flows.filter((f) => f.deviceIds.includes(deviceId));
  assert.equal(flows.length, 1, `one flow carries device ${deviceId}`);
  return flows[0]!;
}

describe('overhead on a real capture', { timeout: 120_000 }, () => {
  const cleanup = new SuiteCleanup();
  let dir = '';
  let traffic: SensorwireCapture;
  let report: OverheadReport;

  before(async () => {
    requireAll(root, command('tcpdump'), command('tshark'));
    dir = mkdtempSync(join(tmpdir(), 'sensorwire-overhead-'));
    traffic = await captureSensorwire(cleanup, dir, { devices: DEVICES, rudpDeviceId: RUDP_DEVICE });
    report = analyzeFile(traffic.file, { ports: [traffic.tcpPort, traffic.udpPort] });
  });

  after(async () => {
    await cleanup.run();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('finds one flow per device, by transport', () => {
    assert.equal(report.flows.length, DEVICES.length + 1);
    for (const device of DEVICES) assert.equal(flowOf(report, device.id).transport, device.transport);
    assert.equal(flowOf(report, RUDP_DEVICE).transport, 'rudp');
    assert.deepEqual(report.transports.map((t) => [t.transport, t.flows]), [['tcp', 2], ['udp', 2], ['rudp', 1]]);
    // tcpdump's marker datagram goes to another port: it is in the file, not in the report.
    assert.equal(report.capture.frames, report.selected.frames + 1);
  });

  it('has the frames and bytes of tshark\'s conversation tables, flow by flow and direction by direction', async () => {
    const conversations = await tsharkConversations(traffic.file);
    const rows = [...conversations.tcp, ...conversations.udp].filter(
      (r) => [traffic.tcpPort, traffic.udpPort].some((p) => r.a.endsWith(`:${p}`) || r.b.endsWith(`:${p}`)),
    );
    assert.equal(rows.length, report.flows.length);
    for (const flow of report.flows) {
      const a = `${flow.a.address}:${flow.a.port}`;
      const b = `${flow.b.address}:${flow.b.port}`;
      const row = rows.find((r) => r.a === a && r.b === b);
      assert.ok(row, `tshark has the conversation ${a} <-> ${b}`);
      assert.equal(flow.aToB.frames, row.framesAtoB);
      assert.equal(flow.bToA.frames, row.framesBtoA);
      assert.equal(flow.frames, row.frames);
      assert.equal(tsharkSize(flow.aToB.bytes), row.bytesAtoB);
      assert.equal(tsharkSize(flow.bToA.bytes), row.bytesBtoA);
      assert.equal(tsharkSize(flow.bytes), row.bytes);
    }
  });

  it('has exactly tshark\'s bytes, and each layer is tshark\'s sum for it', async () => {
    const tshark = await tsharkDirections(traffic.file);
    for (const flow of report.flows) {
      const proto = flow.transport === 'tcp' ? 'tcp' : 'udp';
      for (const [counts, from, to] of [[flow.aToB, flow.a, flow.b], [flow.bToA, flow.b, flow.a]] as const) {
        const t = tshark.get(`${proto} ${from.port} ${to.port}`);
        assert.ok(t, `tshark has ${proto} ${from.port} → ${to.port}`);
        assert.equal(counts.frames, t.frames);
        assert.equal(counts.bytes, t.bytes);
        assert.equal(counts.layers.link, 14 * t.frames, 'Ethernet headers on lo');
        assert.equal(counts.layers.ip, t.ipHeader);
        assert.equal(counts.layers.transport, t.transportHeader);
        assert.equal(counts.layers.trailer, t.trailer);
        const { framing, header, body, values, tag, malformed, undecoded } = counts.layers;
        assert.equal(framing + header + body + values + tag + malformed + undecoded, t.payload);
        assert.equal(malformed + undecoded, 0, 'every byte decodes');
        assert.equal(layerTotal(counts.layers), counts.bytes, 'the layers add up to the wire bytes');
      }
    }
    for (const summary of [report.total, ...report.transports, ...report.flows]) {
      assert.equal(layerTotal(summary.layers), summary.bytes);
      const share = LAYER_NAMES.reduce((sum, layer) => sum + (summary.derived.sharePercent?.[layer] ?? 0), 0);
      assert.ok(Math.abs(share - 100) < 1e-9, `shares add up to 100% (${share})`);
    }
  });

  it('counts the READINGS and readings the devices sent', () => {
    for (const { plan, summary } of traffic.devices) {
      const flow = flowOf(report, plan.id);
      assert.equal(summary.readings.sent, plan.count);
      assert.equal(flow.readings, summary.readings.sent, `readings of device ${plan.id}`);
      assert.equal(flow.readingsMessages, summary.messages.sent, `READINGS of device ${plan.id}`);
      assert.equal(flow.messages.READINGS, Math.ceil(plan.count / plan.batch));
      assert.equal(flow.messages.HELLO, 1);
      assert.equal(flow.messages.BYE, 1);
      // The server acknowledges HELLO, every READINGS and BYE.
      assert.equal(flow.messages.ACK, flow.messages.READINGS + 2);
      assert.equal(flow.malformed.messages, 0);
      assert.equal(flow.bToA.readings + flow.aToB.readings, flow.readings);
      // Values: a TCP or UDP device sends the same nine simulated sensors.
      assert.ok(flow.layers.values > 0 && flow.layers.values < flow.layers.body + flow.layers.values);
    }
  });

  it('makes TCP pay a handshake and a teardown, and UDP neither', () => {
    for (const { plan } of traffic.devices) {
      const flow = flowOf(report, plan.id);
      if (plan.transport === 'tcp') {
        assert.equal(flow.segments.syn.frames, 1);
        assert.equal(flow.segments.synAck.frames, 1);
        assert.equal(flow.cost.handshake.frames, 3, 'SYN, SYN-ACK, ACK');
        assert.equal(flow.segments.fin.frames, 2, 'a FIN each way');
        assert.ok(flow.cost.teardown.frames >= 2 && flow.cost.teardown.frames <= 4);
        assert.ok(flow.segments.pureAck.frames > 0);
        // One prefix byte per message under 128 bytes, two from 128: the HELLO with its nine-sensor
        // catalogue always, a READINGS now and then (the status string's length varies).
        const messages = flow.messages.HELLO + flow.messages.READINGS + flow.messages.ACK + flow.messages.BYE;
        assert.ok(flow.layers.framing >= messages + 1 && flow.layers.framing <= messages + 1 + flow.messages.READINGS, `${flow.layers.framing} prefix bytes for ${messages} messages`);
      } else {
        assert.equal(flow.cost.handshake.frames + flow.cost.teardown.frames, 0);
        assert.equal(flow.layers.framing, 0);
        assert.equal(flow.cost.session.frames, 4, 'HELLO, BYE and their two ACKs');
        assert.equal(flow.frames, flow.cost.session.frames + flow.cost.steady.frames);
      }
      const { handshake, teardown, session, steady } = flow.cost;
      assert.equal(handshake.bytes + teardown.bytes + session.bytes + steady.bytes, flow.bytes);
      assert.equal(flow.derived.oneOff.bytes, handshake.bytes + teardown.bytes + session.bytes);
      assert.ok(flow.derived.steadyBytesPerReading !== null && flow.derived.bytesPerReading !== null);
      assert.ok(flow.derived.steadyBytesPerReading < flow.derived.bytesPerReading);
    }
    // Batching pays: ten readings per message cost fewer bytes per reading, on either transport.
    for (const transport of ['tcp', 'udp'] as const) {
      const [one, ten] = [1, 10].map((batch) => {
        const device = DEVICES.find((d) => d.transport === transport && d.batch === batch)!;
        return flowOf(report, device.id).derived;
      });
      assert.ok(ten!.steadyBytesPerReading! < one!.steadyBytesPerReading!);
      assert.ok(ten!.efficiency! > one!.efficiency!);
    }
  });

  it('counts the rudp retransmission, once', () => {
    const flow = flowOf(report, RUDP_DEVICE);
    assert.ok(traffic.rudp);
    assert.equal(flow.messages.READINGS, traffic.rudp.readingsDatagrams);
    assert.equal(flow.readingsMessages, 1);
    assert.equal(flow.readings, traffic.rudp.readings);
    assert.equal(flow.resent.frames, 1);
    assert.equal(flow.resent.readings, traffic.rudp.readings);
    const readingsFrame = flow.resent.bytes;
    assert.ok(readingsFrame > 0);
    assert.deepEqual(traffic.rudp.replies.map((m) => (m.type === 'ACK' ? m.status : m.type)), ['OK', 'OK', 'DUPLICATE', 'OK']);
    assert.equal(report.transports.find((t) => t.transport === 'rudp')?.resent.frames, 1);
  });
});

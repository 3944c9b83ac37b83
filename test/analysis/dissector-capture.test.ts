// The Wireshark dissector on real traffic: a spawned server and devices over TCP (batches of 1
// and 10) and UDP, and an rudp exchange, captured by tcpdump on loopback on random ports, so
// that tshark finds sensorwire by the heuristic. Every message the dissector shows must equal,
// field by field, what the project's codec decodes from the same bytes (the reassembled TCP
// streams, the UDP datagrams), in the same order; the readings must be those the devices sent.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFlows } from '../../src/analysis/flows.ts';
import { decodeDatagram, decodeStream } from '../../src/analysis/overhead-decode.ts';
import { readCaptureFile } from '../../src/analysis/pcap.ts';
import { type Json, messageToJson } from '../../src/protocol/index.ts';
import { SuiteCleanup } from '../support/cli.ts';
import { command, requireAll, root } from '../support/requires.ts';
import { type DissectedPacket, dissect, HEURISTICS_FIRST, malformedOf, messageOf, tsharkLua } from './dissector-support.ts';
import { captureSensorwire, type SensorwireCapture } from './overhead-traffic.ts';

const DEVICES = [
  { transport: 'tcp', id: 401, count: 12, batch: 1 },
  { transport: 'tcp', id: 402, count: 30, batch: 10 },
  { transport: 'udp', id: 403, count: 12, batch: 3 },
] as const;

/** "proto src dst" → the messages the codec decodes from that direction, in order. */
function codecMessages(file: string, ports: readonly number[]): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  for (const flow of buildFlows(readCaptureFile(file).records).flows()) {
    if (!ports.includes(flow.a.port) && !ports.includes(flow.b.port)) continue;
    for (const [stats, from, to] of [[flow.aToB, flow.a, flow.b], [flow.bToA, flow.b, flow.a]] as const) {
      const decoded = stats.stream !== null
        ? decodeStream(stats.stream.bytes()).items.map((i) => i.decoded)
        : stats.datagrams.map((d) => decodeDatagram(d.payload));
      out.set(`${flow.protocol} ${from.port} ${to.port}`, decoded.map((d) => {
        assert.ok(d.ok, 'every message of the capture decodes');
        return messageToJson(d.message);
      }));
    }
  }
  return out;
}

function dissectorMessages(packets: readonly DissectedPacket[]): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  for (const p of packets) {
    if (p.layers.length === 0) continue;
    const key = `${p.protocol} ${p.srcPort} ${p.dstPort}`;
    const list = out.get(key) ?? [];
    for (const layer of p.layers) {
      assert.equal(malformedOf(layer), null);
      list.push(messageOf(layer));
    }
    out.set(key, list);
  }
  return out;
}

describe('Wireshark dissector on a real capture', { timeout: 120_000 }, () => {
  const cleanup = new SuiteCleanup();
  let dir = '';
  let traffic: SensorwireCapture;
  let packets: DissectedPacket[];

  before(async () => {
    requireAll(root, command('tcpdump'), command('tshark'), tsharkLua);
    dir = mkdtempSync(join(tmpdir(), 'sensorwire-dissector-'));
    traffic = await captureSensorwire(cleanup, dir, { devices: DEVICES, rudpDeviceId: 404 });
    packets = await dissect(traffic.file, HEURISTICS_FIRST);
  });

  after(async () => {
    await cleanup.run();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('shows every message the codec decodes, field for field, in order, each way', () => {
    const expected = codecMessages(traffic.file, [traffic.tcpPort, traffic.udpPort]);
    const seen = dissectorMessages(packets);
    assert.deepEqual([...seen.keys()].sort(), [...expected.keys()].filter((k) => (expected.get(k) ?? []).length > 0).sort());
    for (const [key, messages] of expected) assert.deepEqual(seen.get(key) ?? [], messages, key);
    // Both transports and every kind of message the devices and server exchange are there.
    const all = [...seen.values()].flat() as { type: string; reliable?: boolean }[];
    for (const type of ['HELLO', 'READINGS', 'ACK', 'BYE']) assert.ok(all.some((m) => m.type === type), type);
    assert.ok(all.some((m) => m.reliable === true), 'rudp messages');
    assert.ok(packets.some((p) => p.protocol === 'tcp' && p.layers.length > 0));
    assert.ok(packets.some((p) => p.protocol === 'udp' && p.layers.length > 0));
  });

  it('shows the readings each device sent', () => {
    const seen = dissectorMessages(packets);
    for (const { plan, summary } of traffic.devices) {
      const readings = [...seen.values()].flat()
        .filter((m) => (m as { type: string; deviceId: number }).type === 'READINGS' && (m as { deviceId: number }).deviceId === plan.id)
        .flatMap((m) => (m as { readings: unknown[] }).readings);
      assert.equal(readings.length, summary.readings.sent, `device ${plan.id}`);
      assert.equal(readings.length, plan.count);
    }
  });

  it('leaves tcpdump\'s marker datagram alone', () => {
    const other = packets.filter((p) => p.protocol === 'udp' && p.srcPort !== traffic.udpPort && p.dstPort !== traffic.udpPort);
    assert.equal(other.length, 1);
    assert.deepEqual(other[0]!.layers, []);
  });
});

// What a CONFIG policy is shown: once a READINGS is stored, the readings of the sensors it
// watches, and nothing when the message has none (the server keeps no more of a message than that
// while it waits for its commit). Over TCP and UDP, real sockets, a SQLite file.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Message, Reading, SensorSpec } from '../../src/protocol/index.ts';
import type { ConfigPolicy } from '../../src/server/policy.ts';
import { HOST, RawTcpClient, RawUdpClient, ackOf, allReadings, startSqliteServer } from './support.ts';

const SENSORS: SensorSpec[] = [
  { id: 1, type: 'float32', delivery: 'latest', unit: '°C', name: 'temperature' },
  { id: 4, type: 'uint16', delivery: 'latest', unit: 'mV', name: 'battery' },
  { id: 5, type: 'int8', delivery: 'latest', unit: 'dBm', name: 'rssi' },
];

/** Watches the battery; records every call and never asks for a change. */
function recordingPolicy(): { policy: ConfigPolicy; calls: Reading[][] } {
  const calls: Reading[][] = [];
  return {
    calls,
    policy: {
      watches: (s) => s.unit === 'mV',
      evaluate: (_device, readings) => {
        calls.push([...readings]);
        return undefined;
      },
    },
  };
}

const readings = (deviceId: number, seq: number, list: Reading[]): Message =>
  ({ type: 'READINGS', deviceId, seq, baseTime: 1_700_000_000_000 + seq, readings: list });

async function check(t: TestContext, kind: 'tcp' | 'udp'): Promise<void> {
  const { policy, calls } = recordingPolicy();
  const { store, tcpPort, udpPort } = await startSqliteServer(t, { policy });
  const id = kind === 'tcp' ? 21 : 22;
  const client = kind === 'tcp' ? await RawTcpClient.connect(t, tcpPort) : await RawUdpClient.open(t, udpPort, HOST);
  await client.send({ type: 'HELLO', deviceId: id, seq: 1, session: 1, resumeSeq: 1, intervalMs: 1000, model: 'm', firmware: '1', sensors: SENSORS });
  await client.next('the HELLO ACK', ackOf(1));
  const mixed: Reading[] = [
    { sensor: 1, delta: 0, type: 'float32', value: 21.5 },
    { sensor: 4, delta: 1, type: 'uint16', value: 3712 },
    { sensor: 5, delta: 2, type: 'int8', value: -67 },
    { sensor: 4, delta: 3, type: 'uint16', value: 3700 },
  ];
  await client.send(readings(id, 2, mixed));
  await client.send(readings(id, 3, [{ sensor: 1, delta: 0, type: 'float32', value: 22 }]));
  await client.send(readings(id, 4, [{ sensor: 4, delta: 0, type: 'uint16', value: 3600 }]));
  for (const seq of [2, 3, 4]) await client.next(`the ACK of ${seq}`, ackOf(seq));
  // Message 3 has no battery reading: the policy is not asked about it.
  assert.deepEqual(calls, [[mixed[1], mixed[3]], [{ sensor: 4, delta: 0, type: 'uint16', value: 3600 }]]);
  // Every reading is stored, watched or not.
  assert.equal((await allReadings(store, id)).length, 6);
}

describe('CONFIG policy: what it is shown', { timeout: 60_000 }, () => {
  it('over TCP, the stored readings of the sensors it watches', (t) => check(t, 'tcp'));
  it('over UDP, the stored readings of the sensors it watches', (t) => check(t, 'udp'));
});

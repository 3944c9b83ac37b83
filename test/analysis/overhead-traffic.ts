// Real sensorwire traffic on the loopback interface, captured by tcpdump, for the analyzer and
// dissector tests: a spawned server, spawned devices over TCP and UDP (each with its own device
// id), and optionally an rudp exchange sent from this process (HELLO, READINGS, the same
// READINGS again as a retransmission, BYE, all with the RELIABLE flag). Each device runs to
// its end (BYE acknowledged); the capture is stopped only once every TCP connection's teardown
// has been seen, so the file holds whole conversations. Needs root, tcpdump and tshark.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { join } from 'node:path';
import { decode, encode } from '../../src/protocol/index.ts';
import type { Message } from '../../src/protocol/types.ts';
import { type Cleanup, run, server } from '../support/cli.ts';
import { startCapture } from '../support/capture.ts';
import { until, within } from '../support/wait.ts';

export interface DevicePlan {
  readonly transport: 'tcp' | 'udp';
  readonly id: number;
  readonly count: number;
  readonly batch: number;
}

/** What `sensorwire device --json` printed (the fields the tests use). */
export interface DeviceSummary {
  readonly device: number;
  readonly readings: { readonly sent: number; readonly acknowledged: number };
  readonly messages: { readonly sent: number; readonly acknowledged: number; readonly retransmissions: number };
}

export interface RudpExchange {
  readonly deviceId: number;
  /** READINGS messages sent, the retransmission included. */
  readonly readingsDatagrams: number;
  readonly readings: number;
  /** The server's answers, decoded. */
  readonly replies: readonly Message[];
}

export interface SensorwireCapture {
  readonly file: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly devices: readonly { readonly plan: DevicePlan; readonly summary: DeviceSummary }[];
  readonly rudp: RudpExchange | null;
}

const WAIT_MS = 20_000;

/** Sends the rudp exchange to the server's UDP port and waits for each answer. */
async function rudpExchange(port: number, deviceId: number): Promise<RudpExchange> {
  const socket = createSocket('udp4');
  const replies: Message[] = [];
  socket.on('message', (bytes) => replies.push(decode(new Uint8Array(bytes), { maxMessageSize: 1200 })));
  socket.bind(0, '127.0.0.1');
  await within(once(socket, 'listening'), 'the rudp socket to bind');
  try {
    const send = async (message: Message, answers: number): Promise<void> => {
      socket.send(encode(message), port, '127.0.0.1');
      await until(() => replies.length >= answers, `answer ${answers} to the rudp exchange`, WAIT_MS);
    };
    await send({
      type: 'HELLO', deviceId, seq: 1, reliable: true, session: 1, resumeSeq: 1, intervalMs: 1000, model: 'test', firmware: '1',
      sensors: [{ id: 1, type: 'float32', delivery: 'reliable', unit: 'C', name: 'temperature' }],
    }, 1);
    const readings: Message = {
      type: 'READINGS', deviceId, seq: 2, reliable: true, baseTime: Date.now(),
      readings: [
        { sensor: 1, delta: 0, type: 'float32', value: 21.5 },
        { sensor: 1, delta: 10, type: 'float32', value: 21.75 },
      ],
    };
    await send(readings, 2);
    await send(readings, 3); // the retransmission: the server answers DUPLICATE
    await send({ type: 'BYE', deviceId, seq: 3, reliable: true, reason: 0 }, 4);
    return { deviceId, readingsDatagrams: 2, readings: 2, replies };
  } finally {
    socket.close();
  }
}

/** Runs the plan against a fresh server under tcpdump and returns the capture file. */
export async function captureSensorwire(
  cleanup: Cleanup,
  dir: string,
  plan: { readonly devices: readonly DevicePlan[]; readonly rudpDeviceId?: number },
): Promise<SensorwireCapture> {
  const srv = await server(cleanup, join(dir, 'server.db'), ['--log-level', 'warn']);
  const file = join(dir, 'sensorwire.pcap');
  const capture = await startCapture({ interface: 'lo', filter: `tcp port ${srv.tcpPort} or udp port ${srv.udpPort}`, file });
  cleanup.after(() => capture.kill());

  const devices = await Promise.all(
    plan.devices.map(async (device) => {
      const port = device.transport === 'tcp' ? srv.tcpPort : srv.udpPort;
      const args = [
        'device', '--transport', device.transport, '--port', String(port), '--id', String(device.id),
        '--count', String(device.count), '--batch', String(device.batch), '--interval', '5ms', '--json',
      ];
      const done = await run(cleanup, args);
      assert.equal(done.code, 0, `device ${device.id} failed:\n${done.stderr}`);
      const last = done.stdout.trim().split('\n').at(-1) ?? '';
      return { plan: device, summary: JSON.parse(last) as DeviceSummary };
    }),
  );
  const rudp = plan.rudpDeviceId === undefined ? null : await rudpExchange(srv.udpPort, plan.rudpDeviceId);

  // Every TCP connection ends with a FIN from each side and the device's last ACK.
  const tcpDevices = plan.devices.filter((d) => d.transport === 'tcp').length;
  const fromServer = new RegExp(`^\\S+ IP 127\\.0\\.0\\.1\\.${srv.tcpPort} > \\S+: Flags \\[F`);
  const toServer = new RegExp(`^\\S+ IP \\S+ > 127\\.0\\.0\\.1\\.${srv.tcpPort}: Flags \\[F`);
  await until(
    () => capture.lines.filter((l) => fromServer.test(l)).length >= tcpDevices && capture.lines.filter((l) => toServer.test(l)).length >= tcpDevices,
    'every TCP connection to be torn down',
    WAIT_MS,
  );
  const stats = await capture.stop();
  assert.equal(stats.droppedByKernel, 0, 'tcpdump dropped packets');
  await srv.stop();
  return { file, tcpPort: srv.tcpPort, udpPort: srv.udpPort, devices, rudp };
}

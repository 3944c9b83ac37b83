// `server --keys FILE` (PROTOCOL.md §8): a device with its key stores everything; a forged
// message (wrong key, no tag, a flipped byte, a device without a key) is refused with ERROR
// BAD_TAG, closes the TCP connection and stores nothing; the exact bytes of an earlier
// authenticated READINGS resent store nothing again (ACK DUPLICATE while recent, ERROR REPLAY once
// more than 64 seqs old); a replayed HELLO of an older session, or of a seq already seen, is
// refused with REPLAY.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { SimulatedDevice } from '../../src/device/device.ts';
import { ErrorCode, encode, toHex, type Message, type MessageOf } from '../../src/protocol/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';
import { tcp } from '../../src/transport/index.ts';
import { within } from '../support/wait.ts';
import {
  HOST, RawTcpClient, RawUdpClient, ServerProcess, ackOf, allReadings, checkStore, errorFor, tempDir,
} from './support.ts';

const key = (fill: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (i * 13 + fill) & 0xff);
const GOOD_DEVICE = 20;
const RAW_DEVICE = 21;
const NO_KEY_DEVICE = 99;
const KEYS = new Map([[GOOD_DEVICE, key(1)], [RAW_DEVICE, key(2)]]);
const WRONG = key(3);
const SESSION = 4000;

function hello(seq: number, session = SESSION): MessageOf<'HELLO'> {
  return {
    type: 'HELLO', deviceId: RAW_DEVICE, seq, session, resumeSeq: seq, intervalMs: 1000, model: 'raw', firmware: '1',
    sensors: [{ id: 1, type: 'uint16', delivery: 'reliable', unit: 'x', name: 'counter' }],
  };
}

function readings(seq: number, value = seq, deviceId = RAW_DEVICE): MessageOf<'READINGS'> {
  return { type: 'READINGS', deviceId, seq, baseTime: 1_795_000_000_000 + seq, readings: [{ sensor: 1, delta: 0, type: 'uint16', value }] };
}

const signed = (m: Message, k = KEYS.get(RAW_DEVICE)!, session = SESSION): Uint8Array => encode(m, { key: k, session });

const codeOf = (m: Message): string => (m.type === 'ERROR' ? `ERROR ${m.code}` : m.type === 'ACK' ? `ACK ${m.status}` : m.type);

/** Opens a connection and has its HELLO (at `seq`) acknowledged. */
async function session(t: TestContext, port: number, seq: number, sessionNumber = SESSION): Promise<RawTcpClient> {
  const c = await RawTcpClient.connect(t, port);
  c.sendMessageBytes(signed(hello(seq, sessionNumber)));
  assert.equal(codeOf(await c.nextOpen(`the ACK of HELLO ${seq}`, ackOf(seq))), 'ACK OK');
  return c;
}

/** Sends `bytes` as one frame on a fresh session and expects ERROR BAD_TAG, then the close. */
async function forged(t: TestContext, port: number, helloSeq: number, bytes: Uint8Array, refSeq: number): Promise<void> {
  const c = await session(t, port, helloSeq);
  c.sendMessageBytes(bytes);
  const reply = await c.next(`BAD_TAG for seq ${refSeq}`, errorFor(refSeq));
  assert.equal(codeOf(reply), `ERROR ${ErrorCode.BAD_TAG}`);
  await within(c.closed, 'the server to close after BAD_TAG');
}

describe('server --keys', { timeout: 120_000 }, () => {
  it('stores what is signed with the right key, refuses forgeries and replays, and stores nothing of them', async (t) => {
    const dir = tempDir(t);
    const db = join(dir, 'readings.db');
    const keysFile = join(dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify(Object.fromEntries([...KEYS].map(([id, k]) => [String(id), toHex(k)]))));
    const srv = ServerProcess.start(t, ['--keys', keysFile, '--host', HOST, '--tcp-port', '0', '--udp-port', '0', '--db', db, '--log-level', 'warn']);
    const { tcpPort, udpPort } = await srv.listening();
    let store: Store | undefined;
    const rows = async (device = RAW_DEVICE): Promise<number[]> => {
      store ??= openSqliteStore(db, { readonly: true });
      return (await allReadings(store, device)).map((r) => r.seq);
    };
    t.after(() => store?.close());

    // A simulated device with its key: everything stored.
    const good = new SimulatedDevice({
      id: GOOD_DEVICE, transport: tcp, host: HOST, port: tcpPort, intervalMs: 5, batch: 4, count: 60, key: KEYS.get(GOOD_DEVICE)!, session: 7,
    });
    t.after(() => good.finish());
    const summary = await within(good.run(), 'the signed device', 20_000);
    assert.deepEqual([summary.readings.acknowledged, summary.readings.rejected], [60, 0]);

    // A signed session of the raw device: HELLO 1, READINGS 2 stored.
    const c1 = await session(t, tcpPort, 1);
    const first = signed(readings(2));
    c1.sendMessageBytes(first);
    assert.equal(codeOf(await c1.nextOpen('the ACK of READINGS 2', ackOf(2))), 'ACK OK');
    c1.close();
    assert.deepEqual(await rows(), [2]);

    // Forgeries, each on its own connection: wrong key, no tag, a flipped byte of a signed
    // message (the reading's value), a device that has no key at all.
    await forged(t, tcpPort, 3, signed(readings(4), WRONG), 4);
    await forged(t, tcpPort, 5, encode(readings(6)), 6);
    const flipped = signed(readings(8, 1000));
    flipped[flipped.length - 9] = flipped[flipped.length - 9]! ^ 0x01; // the value's last byte, just before the tag
    await forged(t, tcpPort, 7, flipped, 8);
    const stranger = await RawTcpClient.connect(t, tcpPort);
    stranger.sendMessageBytes(signed({ ...hello(1), deviceId: NO_KEY_DEVICE }, WRONG));
    assert.equal(codeOf(await stranger.next('BAD_TAG for a device without a key', errorFor(1))), `ERROR ${ErrorCode.BAD_TAG}`);
    await within(stranger.closed, 'the server to close the keyless device');
    // Over UDP too (no connection to close): refused, nothing stored.
    const datagrams = await RawUdpClient.open(t, udpPort);
    await datagrams.sendBytes(signed(readings(9), WRONG));
    assert.equal(codeOf(await datagrams.next('BAD_TAG over UDP', errorFor(9))), `ERROR ${ErrorCode.BAD_TAG}`);
    assert.deepEqual(await rows(), [2], 'no forgery stored');
    assert.deepEqual(await rows(NO_KEY_DEVICE), []);

    // The exact bytes of READINGS 2 again, on a new connection: recent, so ACK DUPLICATE.
    const c2 = await session(t, tcpPort, 10);
    c2.sendMessageBytes(first);
    assert.equal(codeOf(await c2.nextOpen('the answer to the replayed READINGS 2', ackOf(2))), 'ACK DUPLICATE');
    // 70 more READINGS (seqs 11 … 80) move the window on; then READINGS 2 is too old: REPLAY.
    for (let seq = 11; seq <= 80; seq++) c2.sendMessageBytes(signed(readings(seq)));
    await c2.nextOpen('the ACK of READINGS 80', ackOf(80));
    c2.sendMessageBytes(first);
    assert.equal(codeOf(await c2.nextOpen('the answer to the old replay', errorFor(2))), `ERROR ${ErrorCode.REPLAY}`);
    // A replayed HELLO of this session whose seq was seen: REPLAY. The connection stays open.
    c2.sendMessageBytes(signed(hello(10)));
    assert.equal(codeOf(await c2.nextOpen('the answer to the replayed HELLO', errorFor(10))), `ERROR ${ErrorCode.REPLAY}`);
    c2.close();

    // A new session, then READINGS 2 of the first session replayed in it: its seq is new to the
    // new session, but its tag binds the first session, so it is refused (BAD_TAG, §8).
    const c3 = await session(t, tcpPort, 1, SESSION + 1);
    c3.sendMessageBytes(first);
    assert.equal(codeOf(await c3.next('the answer to a replay from the previous session', errorFor(2))), `ERROR ${ErrorCode.BAD_TAG}`);
    await within(c3.closed, 'the server to close after BAD_TAG');
    // Then the first session's HELLO replayed (older session number): REPLAY.
    const c4 = await RawTcpClient.connect(t, tcpPort);
    c4.sendMessageBytes(signed(hello(1)));
    assert.equal(codeOf(await c4.next('the answer to the old session\'s HELLO', errorFor(1))), `ERROR ${ErrorCode.REPLAY}`);
    c4.close();

    // The store holds READINGS 2 and 11 … 80 of the raw device, each once, and the signed device's.
    const expected = [2, ...Array.from({ length: 70 }, (_, i) => 11 + i)];
    assert.deepEqual(await rows(), expected);
    srv.kill('SIGTERM');
    assert.deepEqual(await srv.exit('the server to stop'), { code: 0, signal: null });
    const check = await checkStore(store!);
    assert.equal(check.byDevice.get(GOOD_DEVICE), 60);
    assert.equal(check.byDevice.get(RAW_DEVICE), expected.length);
    assert.equal(check.totalReadings, 60 + expected.length);
    // The server logged each refusal with its code.
    const refused = srv.logs.filter((l) => l.event === 'refused').map((l) => l.code);
    assert.deepEqual(refused.filter((c) => c === 'BAD_TAG').length, 6);
    assert.deepEqual(refused.filter((c) => c === 'REPLAY').length, 3);
  });
});

// Writes test/vectors/valid.json and invalid.json from the definitions below, using the codec.
// Run once when the protocol changes (npx tsx scripts/make-vectors.ts), then review the hex by
// hand: the files are the contract, and the tests compare the codec against them.
import { writeFileSync } from 'node:fs';
import { encode, encodeFrame, fromHex, messageToJson, toHex, type Message, type SensorSpec } from '../src/protocol/index.ts';

const T0 = 1_763_900_000_000; // 2025-11-23T12:13:20Z
const KEY = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');

const catalogue: SensorSpec[] = [
  { id: 1, type: 'float32', delivery: 'latest', unit: '°C', name: 'temperature' },
  { id: 2, type: 'float32', delivery: 'latest', unit: '%', name: 'humidity' },
  { id: 3, type: 'float64', delivery: 'latest', unit: 'hPa', name: 'pressure' },
  { id: 4, type: 'uint16', delivery: 'latest', unit: 'mV', name: 'battery' },
  { id: 5, type: 'int8', delivery: 'latest', unit: 'dBm', name: 'rssi' },
  { id: 6, type: 'bool', delivery: 'reliable', unit: '', name: 'door' },
  { id: 7, type: 'geo', delivery: 'latest', unit: 'deg', name: 'position' },
  { id: 8, type: 'uint32', delivery: 'latest', unit: 's', name: 'uptime' },
  { id: 9, type: 'string', delivery: 'reliable', unit: '', name: 'status' },
];

interface Valid { name: string; description: string; message: Message; key?: Uint8Array; session?: number }

const valid: Valid[] = [
  {
    name: 'hello-one-sensor',
    description: 'HELLO with a one-sensor catalogue: session 7, resuming at its own sequence number 1, interval 1000 ms',
    message: { type: 'HELLO', deviceId: 42, seq: 1, session: 7, resumeSeq: 1, intervalMs: 1000, model: 'sw-sim', firmware: '1.0.0',
      sensors: [{ id: 1, type: 'float32', delivery: 'latest', unit: '°C', name: 'temperature' }] },
  },
  {
    name: 'hello-simulator-catalogue',
    description: "HELLO carrying the simulator's nine sensors (every delivery class, nine value types)",
    message: { type: 'HELLO', deviceId: 300, seq: 1, session: 1_763_900_000, resumeSeq: 1, intervalMs: 1000, model: 'sw-sim', firmware: '1.0.0', sensors: catalogue },
  },
  {
    name: 'hello-catalogue-other-types',
    description: 'HELLO declaring the six value types the simulator does not use',
    message: { type: 'HELLO', deviceId: 5, seq: 1, session: 1, resumeSeq: 1, intervalMs: 250, model: 'lab', firmware: '0.1',
      sensors: [
        { id: 10, type: 'int16', delivery: 'latest', unit: 'mg', name: 'accel_x' },
        { id: 11, type: 'int32', delivery: 'reliable', unit: '', name: 'counter' },
        { id: 12, type: 'int64', delivery: 'reliable', unit: 'uJ', name: 'energy' },
        { id: 13, type: 'uint8', delivery: 'latest', unit: '%', name: 'duty' },
        { id: 14, type: 'uint64', delivery: 'reliable', unit: 'B', name: 'bytes_total' },
        { id: 15, type: 'bytes', delivery: 'reliable', unit: '', name: 'frame' },
        { id: 16, type: 'timestamp', delivery: 'reliable', unit: 'us', name: 'last_boot' },
      ] },
  },
  {
    name: 'readings-one-float32',
    description: 'READINGS with one float32 reading (the size-table example): 19 bytes',
    message: { type: 'READINGS', deviceId: 42, seq: 1000, baseTime: T0, readings: [{ sensor: 1, delta: 0, type: 'float32', value: 21.5 }] },
  },
  {
    name: 'readings-batch-10-mixed',
    description: 'READINGS with a batch of 10 mixed readings (the size-table example)',
    message: { type: 'READINGS', deviceId: 42, seq: 1001, baseTime: T0, readings: [
      { sensor: 1, delta: 0, type: 'float32', value: 21.5 },
      { sensor: 2, delta: 0, type: 'float32', value: 48.25 },
      { sensor: 3, delta: 0, type: 'float64', value: 1013.25 },
      { sensor: 4, delta: 0, type: 'uint16', value: 3712 },
      { sensor: 5, delta: 0, type: 'int8', value: -67 },
      { sensor: 6, delta: 0, type: 'bool', value: false },
      { sensor: 7, delta: 0, type: 'geo', value: { lat: 40.4167754, lon: -3.7037902 } },
      { sensor: 8, delta: 0, type: 'uint32', value: 86400 },
      { sensor: 9, delta: 0, type: 'string', value: 'ok' },
      { sensor: 1, delta: 1000, type: 'float32', value: 21.625 },
    ] },
  },
  {
    name: 'readings-every-type',
    description: 'READINGS with one reading of each of the 15 value types, deltas 0 to 14 ms',
    message: { type: 'READINGS', deviceId: 7, seq: 2, baseTime: T0, readings: [
      { sensor: 1, delta: 0, type: 'bool', value: true },
      { sensor: 2, delta: 1, type: 'int8', value: -128 },
      { sensor: 3, delta: 2, type: 'int16', value: -2 },
      { sensor: 4, delta: 3, type: 'int32', value: -100000 },
      { sensor: 5, delta: 4, type: 'int64', value: -9007199254740993n },
      { sensor: 6, delta: 5, type: 'uint8', value: 255 },
      { sensor: 7, delta: 6, type: 'uint16', value: 65535 },
      { sensor: 8, delta: 7, type: 'uint32', value: 4294967295 },
      { sensor: 9, delta: 8, type: 'uint64', value: 18446744073709551615n },
      { sensor: 10, delta: 9, type: 'float32', value: -0.5 },
      { sensor: 11, delta: 10, type: 'float64', value: Math.PI },
      { sensor: 12, delta: 11, type: 'string', value: 'Hola, mundo ✓' },
      { sensor: 13, delta: 12, type: 'bytes', value: fromHex('deadbeef') },
      { sensor: 14, delta: 13, type: 'timestamp', value: 1_763_900_000_123_456n },
      { sensor: 15, delta: 14, type: 'geo', value: { lat: -33.8688197, lon: 151.2092955 } },
    ] },
  },
  {
    name: 'readings-edges',
    description: 'READINGS at the edges: largest device id and sequence number (5-byte varints), a 128 ms delta (2-byte varint), empty string and bytes, geo at ±90/±180, float64 infinity and -0',
    message: { type: 'READINGS', deviceId: 4294967295, seq: 4294967295, baseTime: 2 ** 48 - 1, readings: [
      { sensor: 0, delta: 128, type: 'string', value: '' },
      { sensor: 255, delta: 4294967295, type: 'bytes', value: new Uint8Array(0) },
      { sensor: 3, delta: 0, type: 'geo', value: { lat: 90, lon: -180 } },
      { sensor: 4, delta: 0, type: 'float64', value: Number.POSITIVE_INFINITY },
      { sensor: 5, delta: 0, type: 'float64', value: -0 },
      { sensor: 6, delta: 0, type: 'int64', value: -(2n ** 63n) },
      { sensor: 7, delta: 0, type: 'timestamp', value: -1n },
    ] },
  },
  {
    name: 'readings-authenticated',
    description: 'READINGS with the AUTH flag: 8-byte HMAC-SHA-256 tag under the key 000102…1f (32 bytes), in session 1700000000',
    message: { type: 'READINGS', deviceId: 42, seq: 1002, baseTime: T0, readings: [{ sensor: 4, delta: 0, type: 'uint16', value: 3700 }] },
    key: KEY,
    session: 1_700_000_000,
  },
  {
    name: 'ack-ok',
    description: 'ACK, status OK, for sequence 1000; received at T0+5 ms, held 850 µs',
    message: { type: 'ACK', deviceId: 42, seq: 1, status: 'OK', ackSeq: 1000, rxTime: T0 + 5, holdUs: 850 },
  },
  {
    name: 'ack-duplicate',
    description: 'ACK, status DUPLICATE: the READINGS had been stored before',
    message: { type: 'ACK', deviceId: 42, seq: 2, status: 'DUPLICATE', ackSeq: 1000, rxTime: T0 + 900, holdUs: 40 },
  },
  {
    name: 'ack-with-config',
    description: 'ACK carrying a CONFIG (CONFIG flag): interval 5000 ms, disable sensors 3 and 7',
    message: { type: 'ACK', deviceId: 42, seq: 3, status: 'OK', ackSeq: 1003, rxTime: T0 + 3000, holdUs: 1200,
      config: { configId: 1, intervalMs: 5000, enable: [], disable: [3, 7] } },
  },
  {
    name: 'ack-rudp-sack',
    description: 'rudp ACK (RELIABLE flag): cumulative 10, window 32, selective ranges 12–13 and 20',
    message: { type: 'ACK', deviceId: 42, seq: 4, status: 'OK', ackSeq: 10, rxTime: T0, holdUs: 15,
      rudp: { epoch: 0xcafe0001, window: 32, sack: [{ first: 12, last: 13 }, { first: 20, last: 20 }] } },
  },
  {
    name: 'ack-rudp-resync',
    description: 'rudp ACK with status RESYNC: the server has no state for this session (new epoch)',
    message: { type: 'ACK', deviceId: 42, seq: 1, status: 'RESYNC', ackSeq: 0, rxTime: T0, holdUs: 0,
      rudp: { epoch: 0xcafe0002, window: 64, sack: [] } },
  },
  {
    name: 'config',
    description: 'CONFIG on its own: interval 10 s, enable sensor 2, disable sensor 9',
    message: { type: 'CONFIG', deviceId: 42, seq: 5, configId: 2, intervalMs: 10000, enable: [2], disable: [9] },
  },
  {
    name: 'error',
    description: 'ERROR UNKNOWN_SENSOR about sequence 1004',
    message: { type: 'ERROR', deviceId: 42, seq: 6, code: 35, refSeq: 1004, text: 'sensor 12 is not in the catalogue' },
  },
  {
    name: 'ping',
    description: 'PING (no body)',
    message: { type: 'PING', deviceId: 42, seq: 1005 },
  },
  {
    name: 'pong',
    description: 'PONG answering PING 1005',
    message: { type: 'PONG', deviceId: 42, seq: 7, pingSeq: 1005 },
  },
  {
    name: 'bye',
    description: 'BYE, reason 0 (normal shutdown)',
    message: { type: 'BYE', deviceId: 42, seq: 1006, reason: 0 },
  },
  {
    name: 'hello-rudp',
    description: 'HELLO opening an rudp session (RELIABLE flag), resuming at 17 after a server restart',
    message: { type: 'HELLO', deviceId: 42, seq: 20, reliable: true, session: 9, resumeSeq: 17, intervalMs: 1000, model: 'sw-sim', firmware: '1.0.0',
      sensors: [{ id: 6, type: 'bool', delivery: 'reliable', unit: '', name: 'door' }] },
  },
  {
    name: 'readings-rudp',
    description: 'READINGS in an rudp session (RELIABLE flag)',
    message: { type: 'READINGS', deviceId: 42, seq: 21, reliable: true, baseTime: T0, readings: [{ sensor: 6, delta: 0, type: 'bool', value: true }] },
  },
];

interface Invalid { name: string; description: string; hex: string; error: string; offset: number; maxMessageSize?: number }

const r1 = toHex(encode(valid[3]!.message)); // readings-one-float32
const invalid: Invalid[] = [
  { name: 'empty', description: 'no bytes at all', hex: '', error: 'TRUNCATED', offset: 0 },
  { name: 'header-only-type', description: 'one byte: the flags are missing', hex: '12', error: 'TRUNCATED', offset: 1 },
  { name: 'version-2', description: 'version 2 in the high nibble', hex: '22002a01', error: 'UNSUPPORTED_VERSION', offset: 0 },
  { name: 'version-0', description: 'version 0', hex: '02002a01', error: 'UNSUPPORTED_VERSION', offset: 0 },
  { name: 'type-0', description: 'message type 0 is reserved', hex: '10002a01', error: 'UNKNOWN_TYPE', offset: 0 },
  { name: 'type-9', description: 'message type 9 is not defined', hex: '19002a01', error: 'UNKNOWN_TYPE', offset: 0 },
  { name: 'reserved-flag', description: 'PING with reserved flag bit 0x08 set', hex: '16082a01', error: 'BAD_FLAGS', offset: 1 },
  { name: 'config-flag-on-readings', description: 'the CONFIG flag is valid only on ACK', hex: '12042a01', error: 'BAD_FLAGS', offset: 1 },
  { name: 'varint-overlong', description: 'device id 0 written in two bytes (80 00)', hex: '16008000' + '01', error: 'BAD_VARINT', offset: 2 },
  { name: 'varint-six-bytes', description: 'sequence number with six bytes', hex: '16002a8080808080' + '01', error: 'BAD_VARINT', offset: 3 },
  { name: 'varint-over-32-bits', description: 'device id 2^32 (80 80 80 80 10)', hex: '16008080808010' + '01', error: 'BAD_VARINT', offset: 2 },
  { name: 'varint-cut', description: 'PING whose sequence number varint ends early', hex: '16002a80', error: 'TRUNCATED', offset: 3 },
  { name: 'readings-value-cut', description: 'the one-float32 READINGS missing its last byte', hex: r1.slice(0, -2), error: 'TRUNCATED', offset: 15 },
  { name: 'readings-trailing-byte', description: 'the one-float32 READINGS with one extra byte', hex: r1 + '00', error: 'TRAILING_BYTES', offset: 19 },
  { name: 'readings-count-0', description: 'a READINGS batch with no reading', hex: '12002a01' + '019ab0a20700' + '00', error: 'BAD_COUNT', offset: 10 },
  { name: 'readings-count-256', description: 'a READINGS batch announcing 256 readings (80 02)', hex: '12002a01' + '019ab0a20700' + '8002', error: 'BAD_COUNT', offset: 10 },
  { name: 'bool-2', description: 'a bool value of 2', hex: '12002a01' + '019ab0a20700' + '01' + '010100' + '02', error: 'BAD_VALUE', offset: 14 },
  { name: 'value-type-16', description: 'value type 0x10 is not defined', hex: '12002a01' + '019ab0a20700' + '01' + '011000' + '00', error: 'UNKNOWN_VALUE_TYPE', offset: 12 },
  { name: 'value-type-0', description: 'value type 0 is reserved', hex: '12002a01' + '019ab0a20700' + '01' + '010000' + '00', error: 'UNKNOWN_VALUE_TYPE', offset: 12 },
  { name: 'string-bad-utf8', description: 'a string value with the byte ff, never valid in UTF-8', hex: '12002a01' + '019ab0a20700' + '01' + '010c00' + '0261ff', error: 'BAD_UTF8', offset: 14 },
  { name: 'string-256', description: 'a string value announcing 256 bytes (80 02)', hex: '12002a01' + '019ab0a20700' + '01' + '010c00' + '8002' + '61'.repeat(256), error: 'STRING_TOO_LONG', offset: 14 },
  { name: 'string-256-no-content', description: 'a string value announcing 256 bytes with none present: the count is refused before the content', hex: '12002a01' + '019ab0a20700' + '01' + '010c00' + '8002', error: 'STRING_TOO_LONG', offset: 14 },
  { name: 'string-length-past-end', description: 'a string announcing 200 bytes with 1 present', hex: '12002a01' + '019ab0a20700' + '01' + '010c00' + 'c80161', error: 'TRUNCATED', offset: 16 },
  { name: 'geo-longitude-181', description: 'longitude 181 degrees (1810000000 = 6be26880): reported at the value', hex: '12002a01' + '019ab0a20700' + '01' + '010f00' + '00000000' + '6be26880', error: 'BAD_VALUE', offset: 14 },
  { name: 'geo-latitude-91', description: 'latitude 91 degrees (910000000 = 363d7e80)', hex: '12002a01' + '019ab0a20700' + '01' + '010f00' + '363d7e80' + '00000000', error: 'BAD_VALUE', offset: 14 },
  { name: 'ack-status-3', description: 'ACK status 3 is not defined', hex: '13002a01' + '03' + '00' + '019ab0a20700' + '00', error: 'BAD_VALUE', offset: 4 },
  { name: 'sack-gap-1', description: 'rudp ACK whose sack range starts right after the cumulative ack', hex: '13022a01' + '00' + '0a' + '019ab0a20700' + '00' + 'cafe0001' + '20' + '01' + '01' + '00', error: 'BAD_SACK', offset: 19 },
  { name: 'sack-9-ranges', description: 'rudp ACK announcing 9 sack ranges', hex: '13022a01' + '00' + '0a' + '019ab0a20700' + '00' + 'cafe0001' + '20' + '09', error: 'BAD_SACK', offset: 18 },
  { name: 'hello-no-sensors', description: 'HELLO whose catalogue is empty', hex: '11002a01' + '00000007' + '01' + 'e807' + '00' + '00' + '00', error: 'BAD_COUNT', offset: 13 },
  { name: 'hello-duplicate-sensor', description: 'HELLO listing sensor 1 twice', hex: '11002a01' + '00000007' + '01' + 'e807' + '00' + '00' + '02' + '010a010000' + '010a010000', error: 'BAD_SENSOR', offset: 19 },
  { name: 'hello-delivery-class-2', description: 'HELLO with delivery class 2', hex: '11002a01' + '00000007' + '01' + 'e807' + '00' + '00' + '01' + '010a020000', error: 'BAD_VALUE', offset: 16 },
  { name: 'config-sensor-twice', description: 'CONFIG enabling and disabling sensor 3', hex: '14002a01' + '01' + '00' + '0103' + '0103', error: 'BAD_SENSOR', offset: 9 },
  { name: 'auth-too-short', description: 'PING with the AUTH flag but only 4 tag bytes', hex: '16012a01' + '00000000', error: 'TRUNCATED', offset: 4 },
  { name: 'udp-too-large', description: 'a 1201-byte datagram: refused on its size before anything else is read', hex: '15002a01' + '01'.repeat(1197), error: 'MESSAGE_TOO_LARGE', offset: 0, maxMessageSize: 1200 },
];

interface StreamInvalid { name: string; description: string; hex: string; error: string; offset: number; framesBefore: number }
const ping = toHex(encodeFrame({ type: 'PING', deviceId: 42, seq: 1005 }));
const stream: StreamInvalid[] = [
  { name: 'frame-2gb', description: 'a length prefix announcing 2^31 bytes (80 80 80 80 08), after one good frame', hex: ping + '8080808008' + '00', error: 'MESSAGE_TOO_LARGE', offset: 6, framesBefore: 1 },
  { name: 'frame-16385', description: 'a length prefix one byte over the TCP limit (81 80 01)', hex: '818001', error: 'MESSAGE_TOO_LARGE', offset: 0, framesBefore: 0 },
  { name: 'frame-length-0', description: 'a length prefix of 0', hex: ping + '00', error: 'TRUNCATED', offset: 6, framesBefore: 1 },
  { name: 'frame-prefix-six-bytes', description: 'a length prefix of six bytes', hex: '808080808000', error: 'BAD_VARINT', offset: 0, framesBefore: 0 },
  { name: 'frame-prefix-overlong', description: 'a length prefix of 4 written in two bytes (84 00)', hex: '8400' + '16002a01', error: 'BAD_VARINT', offset: 0, framesBefore: 0 },
];

const validOut = valid.map((v) => {
  const bytes = encode(v.message, v.key ? { key: v.key, ...(v.session !== undefined ? { session: v.session } : {}) } : undefined);
  const decodedForm = v.key ? { ...v.message, tag: bytes.subarray(bytes.length - 8) } : v.message;
  return {
    name: v.name,
    description: v.description,
    hex: toHex(bytes),
    frame: toHex(encodeFrame(decodedForm)),
    ...(v.key ? { key: toHex(v.key) } : {}),
    ...(v.session !== undefined ? { session: v.session } : {}),
    message: messageToJson(decodedForm),
  };
});

writeFileSync('test/vectors/valid.json', JSON.stringify(validOut, null, 2) + '\n');
writeFileSync('test/vectors/invalid.json', JSON.stringify(invalid, null, 2) + '\n');
writeFileSync('test/vectors/stream-invalid.json', JSON.stringify(stream, null, 2) + '\n');
console.log(`${validOut.length} valid, ${invalid.length} invalid, ${stream.length} stream-invalid vectors written`);

// fast-check generators for valid protocol messages, reused by every suite that needs them.
import fc from 'fast-check';
import { Limits, VALUE_TYPE_NAMES, type ValueTypeName } from '../../src/protocol/constants.ts';
import type { ConfigBody, Message, Reading, RudpAck, SensorSpec, Value } from '../../src/protocol/types.ts';

const utf8 = new TextEncoder();
/** Records with Object.prototype, as decoded messages have (deepEqual compares prototypes). */
const plain = { noNullPrototype: true } as const;
const u32 = fc.integer({ min: 0, max: Limits.MAX_VARINT });
const id32 = fc.integer({ min: 1, max: Limits.MAX_VARINT });
const u8 = fc.integer({ min: 0, max: 255 });
const time48 = fc.integer({ min: 0, max: Limits.MAX_TIME48 });
/** Any string whose UTF-8 form fits the 255-byte limit. */
export const wireString = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => utf8.encode(s).length <= Limits.MAX_STRING);

const valueBy: { [K in ValueTypeName]: fc.Arbitrary<Value> } = {
  bool: fc.boolean().map((value) => ({ type: 'bool', value })),
  int8: fc.integer({ min: -128, max: 127 }).map((value) => ({ type: 'int8', value })),
  int16: fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: 'int16', value })),
  int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'int32', value })),
  int64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'int64', value })),
  uint8: u8.map((value) => ({ type: 'uint8', value })),
  uint16: fc.integer({ min: 0, max: 65535 }).map((value) => ({ type: 'uint16', value })),
  uint32: u32.map((value) => ({ type: 'uint32', value })),
  uint64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ type: 'uint64', value })),
  float32: fc.float({ noNaN: true }).map((value) => ({ type: 'float32', value })),
  float64: fc.double({ noNaN: true }).map((value) => ({ type: 'float64', value })),
  string: wireString.map((value) => ({ type: 'string', value })),
  bytes: fc.uint8Array({ maxLength: Limits.MAX_STRING }).map((value) => ({ type: 'bytes', value })),
  timestamp: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'timestamp', value })),
  geo: fc
    .record({ lat: fc.integer({ min: -Limits.MAX_LAT_E7, max: Limits.MAX_LAT_E7 }), lon: fc.integer({ min: -Limits.MAX_LON_E7, max: Limits.MAX_LON_E7 }) }, plain)
    // Positions are whole units of 1e-7 degree; 0 is written +0 so that it survives the trip.
    .map(({ lat, lon }) => ({ type: 'geo', value: { lat: lat / 1e7 + 0, lon: lon / 1e7 + 0 } })),
};

export const value: fc.Arbitrary<Value> = fc.oneof(...VALUE_TYPE_NAMES.map((t) => valueBy[t]));

export const reading: fc.Arbitrary<Reading> = fc
  .record({ sensor: u8, delta: u32, value }, plain)
  .map(({ sensor, delta, value: v }) => ({ sensor, delta, ...v }) as Reading);

const sensorSpec = (id: number): fc.Arbitrary<SensorSpec> =>
  fc.record(
    {
      id: fc.constant(id),
      type: fc.constantFrom(...VALUE_TYPE_NAMES),
      delivery: fc.constantFrom('reliable' as const, 'latest' as const),
      unit: wireString,
      name: wireString,
    },
    plain,
  );

const catalogue = fc
  .uniqueArray(u8, { minLength: 1, maxLength: 12 })
  .chain((ids) => fc.tuple(...ids.map(sensorSpec)));

const configBody: fc.Arbitrary<ConfigBody> = fc
  .uniqueArray(u8, { maxLength: 20 })
  .chain((ids) => fc.integer({ min: 0, max: ids.length }).map((cut) => [ids.slice(0, cut), ids.slice(cut)] as const))
  .chain(([enable, disable]) => fc.record({ configId: u32, intervalMs: u32, enable: fc.constant(enable), disable: fc.constant(disable) }, plain));

const rudpAck = (ackSeq: number): fc.Arbitrary<RudpAck> =>
  fc
    .array(fc.tuple(fc.integer({ min: 2, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { maxLength: Limits.MAX_SACK_RANGES })
    .map((pairs) => {
      const sack: { first: number; last: number }[] = [];
      let previous = ackSeq;
      for (const [gap, extra] of pairs) {
        const first = previous + gap;
        const last = first + extra;
        if (last > Limits.MAX_VARINT) break;
        sack.push({ first, last });
        previous = last;
      }
      return sack;
    })
    .chain((sack) => fc.record({ epoch: u32, window: u32, sack: fc.constant(sack) }, plain));

const header = fc.record(
  { deviceId: u32, seq: u32, reliable: fc.constant(true), tag: fc.uint8Array({ minLength: 8, maxLength: 8 }) },
  { requiredKeys: ['deviceId', 'seq'], noNullPrototype: true },
);

/** Any valid message of any type. */
export const message: fc.Arbitrary<Message> = fc.oneof(
  fc.tuple(header, fc.record({ session: u32, resumeSeq: u32, intervalMs: u32, model: wireString, firmware: wireString, sensors: catalogue }, plain))
    .map(([h, b]) => ({ type: 'HELLO', ...h, ...b }) as Message),
  fc.tuple(header, time48, fc.array(reading, { minLength: 1, maxLength: 12 }))
    .map(([h, baseTime, readings]) => ({ type: 'READINGS', ...h, baseTime, readings }) as Message),
  fc.tuple(header, fc.constantFrom('OK' as const, 'DUPLICATE' as const, 'RESYNC' as const), u32, time48, u32, fc.option(configBody, { nil: undefined }))
    .chain(([h, status, ackSeq, rxTime, holdUs, config]) =>
      fc.option(rudpAck(ackSeq), { nil: undefined }).map((rudp) => {
        const { reliable: _ignored, ...rest } = h;
        return { type: 'ACK', ...rest, status, ackSeq, rxTime, holdUs, ...(rudp ? { rudp } : {}), ...(config ? { config } : {}) } as Message;
      }),
    ),
  fc.tuple(header, configBody).map(([h, c]) => ({ type: 'CONFIG', ...h, ...c }) as Message),
  fc.tuple(header, u8, u32, wireString).map(([h, code, refSeq, text]) => ({ type: 'ERROR', ...h, code, refSeq, text }) as Message),
  header.map((h) => ({ type: 'PING', ...h }) as Message),
  fc.tuple(header, u32).map(([h, pingSeq]) => ({ type: 'PONG', ...h, pingSeq }) as Message),
  fc.tuple(header, u8).map(([h, reason]) => ({ type: 'BYE', ...h, reason }) as Message),
);

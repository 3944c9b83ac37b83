// bytes → Message. Every malformed input ends in a ProtocolError with a code and an offset.
import { AckStatus, DeliveryClass, Flag, Limits, byCode, type AckStatusName, type DeliveryClassName } from './constants.ts';
import { ProtocolError } from './errors.ts';
import { readHeader, type DecodeOptions } from './header.ts';
import { Reader } from './reader.ts';
import type { ConfigBody, Message, Reading, RudpAck, SackRange, SensorSpec } from './types.ts';
import { readValue, valueTypeOf } from './values.ts';

const ACK_STATUS_BY_CODE = byCode<AckStatusName>(AckStatus);
const DELIVERY_BY_CODE = byCode<DeliveryClassName>(DeliveryClass);

export type { DecodeOptions };

/** Decodes one whole message: a UDP datagram, or a TCP frame without its length prefix. */
export function decode(bytes: Uint8Array, options?: DecodeOptions): Message {
  const r = new Reader(bytes);
  const h = readHeader(r, options);
  const head = { deviceId: h.deviceId, seq: h.seq };
  let message: Message;
  switch (h.type) {
    case 'HELLO': {
      const session = r.u32('session');
      const resumeSeq = r.varint('resume sequence number');
      const intervalMs = r.varint('interval');
      const model = r.string('model');
      const firmware = r.string('firmware');
      const sensors = readSensors(r);
      message = { type: 'HELLO', ...head, session, resumeSeq, intervalMs, model, firmware, sensors };
      break;
    }
    case 'READINGS': {
      const baseTime = r.u48('base time');
      const countAt = r.offset;
      const count = r.varint('reading count');
      if (count < 1 || count > Limits.MAX_READINGS) {
        throw new ProtocolError('BAD_COUNT', countAt, `a batch holds 1 to ${Limits.MAX_READINGS} readings, not ${count}`);
      }
      const readings: Reading[] = [];
      for (let i = 0; i < count; i++) {
        const sensor = r.u8('sensor id');
        const typeAt = r.offset;
        const type = valueTypeOf(r.u8('value type'), typeAt);
        const delta = r.varint('time delta');
        // One object literal of one shape for every reading keeps this loop monomorphic.
        readings.push({ sensor, delta, type, value: readValue(r, type) } as Reading);
      }
      message = { type: 'READINGS', deviceId: h.deviceId, seq: h.seq, baseTime, readings };
      break;
    }
    case 'ACK': {
      const statusAt = r.offset;
      const statusCode = r.u8('ack status');
      const status = ACK_STATUS_BY_CODE[statusCode];
      if (status === undefined) throw new ProtocolError('BAD_VALUE', statusAt, `ack status ${statusCode} is not defined`);
      const ackSeq = r.varint('acknowledged sequence number');
      const rxTime = r.u48('receive time');
      const holdUs = r.varint('hold time');
      const rudp = (h.flags & Flag.RELIABLE) !== 0 ? readRudpAck(r, ackSeq) : undefined;
      const config = (h.flags & Flag.CONFIG) !== 0 ? readConfigBody(r) : undefined;
      message = {
        type: 'ACK', ...head, status, ackSeq, rxTime, holdUs,
        ...(rudp ? { rudp } : {}),
        ...(config ? { config } : {}),
      };
      break;
    }
    case 'CONFIG':
      message = { type: 'CONFIG', ...head, ...readConfigBody(r) };
      break;
    case 'ERROR': {
      const code = r.u8('error code');
      const refSeq = r.varint('referenced sequence number');
      const text = r.string('error text');
      message = { type: 'ERROR', ...head, code, refSeq, text };
      break;
    }
    case 'PING':
      message = { type: 'PING', ...head };
      break;
    case 'PONG':
      message = { type: 'PONG', ...head, pingSeq: r.varint('ping sequence number') };
      break;
    case 'BYE':
      message = { type: 'BYE', ...head, reason: r.u8('bye reason') };
      break;
  }
  if (r.offset !== r.end) {
    throw new ProtocolError('TRAILING_BYTES', r.offset, `${r.end - r.offset} bytes follow the end of the ${h.type} body`);
  }
  // The rare flags are added last, so that the common message keeps one shape per type.
  if ((h.flags & Flag.RELIABLE) !== 0 && h.type !== 'ACK') message = { ...message, reliable: true };
  if (r.end !== bytes.length) message = { ...message, tag: bytes.slice(r.end) };
  return message;
}

function readSensors(r: Reader): SensorSpec[] {
  const countAt = r.offset;
  const count = r.varint('sensor count');
  if (count < 1 || count > Limits.MAX_SENSORS) {
    throw new ProtocolError('BAD_COUNT', countAt, `a catalogue holds 1 to ${Limits.MAX_SENSORS} sensors, not ${count}`);
  }
  const sensors: SensorSpec[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const idAt = r.offset;
    const id = r.u8('sensor id');
    if (seen.has(id)) throw new ProtocolError('BAD_SENSOR', idAt, `sensor id ${id} appears twice in the catalogue`);
    seen.add(id);
    const typeAt = r.offset;
    const type = valueTypeOf(r.u8('value type'), typeAt);
    const deliveryAt = r.offset;
    const deliveryCode = r.u8('delivery class');
    const delivery = DELIVERY_BY_CODE[deliveryCode];
    if (delivery === undefined) throw new ProtocolError('BAD_VALUE', deliveryAt, `delivery class ${deliveryCode} is not defined`);
    const unit = r.string('unit');
    const name = r.string('sensor name');
    sensors.push({ id, type, delivery, unit, name });
  }
  return sensors;
}

function readSensorList(r: Reader, what: string, seen: Set<number>): number[] {
  const countAt = r.offset;
  const count = r.u8(`${what} count`);
  if (count > Limits.MAX_CONFIG_SENSORS) {
    throw new ProtocolError('BAD_COUNT', countAt, `a CONFIG lists at most ${Limits.MAX_CONFIG_SENSORS} sensors to ${what}, not ${count}`);
  }
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    const id = r.u8('sensor id');
    if (seen.has(id)) throw new ProtocolError('BAD_SENSOR', at, `sensor id ${id} appears twice in the CONFIG`);
    seen.add(id);
    ids.push(id);
  }
  return ids;
}

function readConfigBody(r: Reader): ConfigBody {
  const configId = r.varint('config id');
  const intervalMs = r.varint('interval');
  const seen = new Set<number>();
  const enable = readSensorList(r, 'enable', seen);
  const disable = readSensorList(r, 'disable', seen);
  return { configId, intervalMs, enable, disable };
}

function readRudpAck(r: Reader, ackSeq: number): RudpAck {
  const epoch = r.u32('epoch');
  const window = r.varint('window');
  const countAt = r.offset;
  const count = r.u8('sack range count');
  if (count > Limits.MAX_SACK_RANGES) {
    throw new ProtocolError('BAD_SACK', countAt, `an ACK carries at most ${Limits.MAX_SACK_RANGES} ranges, not ${count}`);
  }
  const sack: SackRange[] = [];
  let previous = ackSeq;
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    const gap = r.varint('sack gap');
    const extra = r.varint('sack length');
    const first = previous + gap;
    const last = first + extra;
    if (gap < 2) throw new ProtocolError('BAD_SACK', at, `a sack range must start at least 2 above the previous one (gap ${gap})`);
    if (last > Limits.MAX_VARINT) throw new ProtocolError('BAD_SACK', at, `sack range ${first}…${last} passes 2^32-1`);
    sack.push({ first, last });
    previous = last;
  }
  return { epoch, window, sack };
}

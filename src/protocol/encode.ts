// Message → bytes. Refuses, with the same ProtocolError codes a receiver would raise, anything
// a receiver would reject: out-of-range numbers, over-long strings, over-full lists, big messages.
import { AckStatus, DeliveryClass, Flag, Limits, MessageType, TAG_LENGTH, ValueType, VERSION } from './constants.ts';
import { computeTag, type MacFunction } from './auth.ts';
import { ProtocolError } from './errors.ts';
import type { ConfigBody, Message, RudpAck, SensorSpec } from './types.ts';
import { writeValue } from './values.ts';
import { Writer } from './writer.ts';

export interface EncodeOptions {
  /** Pre-shared key: sets the AUTH flag and appends a freshly computed tag. */
  readonly key?: Uint8Array;
  /** The session the tag binds (§8); needed with `key`, except for a HELLO, which carries its own. */
  readonly session?: number;
  /** MAC used with `key`. Default: HMAC-SHA-256 from node:crypto. */
  readonly mac?: MacFunction;
  /** Largest message allowed, in bytes. Default: Limits.MAX_TCP_MESSAGE. */
  readonly maxMessageSize?: number;
}

const scratch = new Writer(2048);

/** Encodes one message (without the TCP length prefix). */
export function encode(message: Message, options?: EncodeOptions): Uint8Array {
  const w = scratch;
  w.reset();
  writeMessage(w, message, options);
  return w.finish();
}

/** Writes one message into `w` at its current offset. */
export function writeMessage(w: Writer, m: Message, options?: EncodeOptions): void {
  const start = w.offset;
  const auth = options?.key !== undefined || m.tag !== undefined;
  if (options?.key === undefined && m.tag !== undefined && m.tag.length !== TAG_LENGTH) {
    throw new ProtocolError('BAD_VALUE', start, `a tag is ${TAG_LENGTH} bytes, not ${m.tag.length}`);
  }
  let flags = auth ? Flag.AUTH : 0;
  if (m.type === 'ACK') {
    if (m.reliable === true && m.rudp === undefined) {
      throw new ProtocolError('BAD_FLAGS', start + 1, 'an rudp ACK (RELIABLE flag) needs its `rudp` fields');
    }
    if (m.rudp !== undefined) flags |= Flag.RELIABLE;
    if (m.config !== undefined) flags |= Flag.CONFIG;
  } else if (m.reliable === true) {
    flags |= Flag.RELIABLE;
  }
  w.u8((VERSION << 4) | MessageType[m.type]);
  w.u8(flags);
  varint(w, m.deviceId, 'device id');
  varint(w, m.seq, 'sequence number');
  switch (m.type) {
    case 'HELLO':
      uint32(w, m.session, 'session');
      varint(w, m.resumeSeq, 'resume sequence number');
      varint(w, m.intervalMs, 'interval');
      w.string(m.model, 'model');
      w.string(m.firmware, 'firmware');
      writeSensors(w, m.sensors);
      break;
    case 'READINGS':
      time48(w, m.baseTime, 'base time');
      count(w, m.readings.length, 1, Limits.MAX_READINGS, 'BAD_COUNT', 'readings in a batch');
      w.varint(m.readings.length);
      for (const reading of m.readings) {
        uint8(w, reading.sensor, 'sensor id');
        w.u8(ValueType[reading.type]);
        varint(w, reading.delta, 'time delta');
        writeValue(w, reading);
      }
      break;
    case 'ACK':
      w.u8(AckStatus[m.status]);
      varint(w, m.ackSeq, 'acknowledged sequence number');
      time48(w, m.rxTime, 'receive time');
      varint(w, m.holdUs, 'hold time');
      if (m.rudp !== undefined) writeRudpAck(w, m.ackSeq, m.rudp);
      if (m.config !== undefined) writeConfigBody(w, m.config);
      break;
    case 'CONFIG':
      writeConfigBody(w, m);
      break;
    case 'ERROR':
      uint8(w, m.code, 'error code');
      varint(w, m.refSeq, 'referenced sequence number');
      w.string(m.text, 'error text');
      break;
    case 'PING':
      break;
    case 'PONG':
      varint(w, m.pingSeq, 'ping sequence number');
      break;
    case 'BYE':
      uint8(w, m.reason, 'bye reason');
      break;
  }
  if (options?.key !== undefined) {
    // The signed bytes are copied: the MAC must not see the scratch buffer grow under it.
    const signed = w.finish().subarray(start);
    // A HELLO binds the session it names, whatever the option says.
    const session = m.type === 'HELLO' ? m.session : options.session;
    if (session === undefined) throw new TypeError(`a tagged ${m.type} needs the session its tag binds (EncodeOptions.session)`);
    w.bytes(computeTag(options.key, session, signed, options.mac));
  } else if (m.tag !== undefined) {
    w.bytes(m.tag);
  }
  const max = options?.maxMessageSize ?? Limits.MAX_TCP_MESSAGE;
  if (w.offset - start > max) {
    throw new ProtocolError('MESSAGE_TOO_LARGE', start, `${m.type} would be ${w.offset - start} bytes, the limit is ${max}`);
  }
}

function varint(w: Writer, v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > Limits.MAX_VARINT) {
    throw new ProtocolError('BAD_VARINT', w.offset, `${what} ${v} is not an integer in 0…2^32-1`);
  }
  w.varint(v);
}

function uint8(w: Writer, v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new ProtocolError('BAD_VALUE', w.offset, `${what} ${v} is not in 0…255`);
  w.u8(v);
}

function uint32(w: Writer, v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new ProtocolError('BAD_VALUE', w.offset, `${what} ${v} is not in 0…2^32-1`);
  w.u32(v);
}

function time48(w: Writer, v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > Limits.MAX_TIME48) {
    throw new ProtocolError('BAD_VALUE', w.offset, `${what} ${v} is not a 48-bit millisecond time`);
  }
  w.u48(v);
}

function count(w: Writer, n: number, min: number, max: number, code: 'BAD_COUNT' | 'BAD_SACK', what: string): void {
  if (n < min || n > max) throw new ProtocolError(code, w.offset, `${n} ${what}; allowed: ${min} to ${max}`);
}

function writeSensors(w: Writer, sensors: readonly SensorSpec[]): void {
  count(w, sensors.length, 1, Limits.MAX_SENSORS, 'BAD_COUNT', 'sensors in a catalogue');
  w.varint(sensors.length);
  const seen = new Set<number>();
  for (const s of sensors) {
    if (seen.has(s.id)) throw new ProtocolError('BAD_SENSOR', w.offset, `sensor id ${s.id} appears twice in the catalogue`);
    seen.add(s.id);
    uint8(w, s.id, 'sensor id');
    w.u8(ValueType[s.type]);
    w.u8(DeliveryClass[s.delivery]);
    w.string(s.unit, 'unit');
    w.string(s.name, 'sensor name');
  }
}

function writeSensorList(w: Writer, ids: readonly number[], what: string, seen: Set<number>): void {
  count(w, ids.length, 0, Limits.MAX_CONFIG_SENSORS, 'BAD_COUNT', `sensors to ${what}`);
  w.u8(ids.length);
  for (const id of ids) {
    if (seen.has(id)) throw new ProtocolError('BAD_SENSOR', w.offset, `sensor id ${id} appears twice in the CONFIG`);
    seen.add(id);
    uint8(w, id, 'sensor id');
  }
}

function writeConfigBody(w: Writer, c: ConfigBody): void {
  varint(w, c.configId, 'config id');
  varint(w, c.intervalMs, 'interval');
  const seen = new Set<number>();
  writeSensorList(w, c.enable, 'enable', seen);
  writeSensorList(w, c.disable, 'disable', seen);
}

function writeRudpAck(w: Writer, ackSeq: number, a: RudpAck): void {
  uint32(w, a.epoch, 'epoch');
  varint(w, a.window, 'window');
  count(w, a.sack.length, 0, Limits.MAX_SACK_RANGES, 'BAD_SACK', 'sack ranges');
  w.u8(a.sack.length);
  let previous = ackSeq;
  for (const range of a.sack) {
    const gap = range.first - previous;
    if (gap < 2 || range.last < range.first || range.last > Limits.MAX_VARINT) {
      throw new ProtocolError('BAD_SACK', w.offset, `sack range ${range.first}…${range.last} does not follow ${previous} with a gap`);
    }
    varint(w, gap, 'sack gap');
    varint(w, range.last - range.first, 'sack length');
    previous = range.last;
  }
}

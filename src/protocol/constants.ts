// Numbers of the wire format, named once. PROTOCOL.md is the normative text for each of them.

/** name → code table turned around: code → name (undefined for codes the table lacks). */
export function byCode<N extends string>(table: Readonly<Record<N, number>>): readonly (N | undefined)[] {
  const out: (N | undefined)[] = [];
  for (const [name, code] of Object.entries(table) as [N, number][]) out[code] = name;
  return out;
}

/** The protocol version this codec speaks (high nibble of byte 0). */
export const VERSION = 1;

/** Message types (low nibble of byte 0). */
export const MessageType = {
  HELLO: 1,
  READINGS: 2,
  ACK: 3,
  CONFIG: 4,
  ERROR: 5,
  PING: 6,
  PONG: 7,
  BYE: 8,
} as const;
export type MessageTypeName = keyof typeof MessageType;
export type MessageTypeCode = (typeof MessageType)[MessageTypeName];

/** Header flag bits (byte 1). Bits 3–7 are reserved and must be zero. */
export const Flag = {
  /** An 8-byte authentication tag ends the message. */
  AUTH: 0x01,
  /** The message belongs to a reliable-UDP (rudp) session. */
  RELIABLE: 0x02,
  /** ACK only: a CONFIG body follows the ACK body. */
  CONFIG: 0x04,
} as const;
export const RESERVED_FLAGS = 0xf8;

/** Value type codes: one byte before every reading's value, and in every catalogue entry. */
export const ValueType = {
  bool: 0x01,
  int8: 0x02,
  int16: 0x03,
  int32: 0x04,
  int64: 0x05,
  uint8: 0x06,
  uint16: 0x07,
  uint32: 0x08,
  uint64: 0x09,
  float32: 0x0a,
  float64: 0x0b,
  string: 0x0c,
  bytes: 0x0d,
  timestamp: 0x0e,
  geo: 0x0f,
} as const;
export type ValueTypeName = keyof typeof ValueType;
export const VALUE_TYPE_NAMES = Object.keys(ValueType) as ValueTypeName[];

/** Delivery classes declared per sensor in the catalogue. */
export const DeliveryClass = {
  reliable: 0,
  latest: 1,
} as const;
export type DeliveryClassName = keyof typeof DeliveryClass;

/** ACK status codes. */
export const AckStatus = {
  /** The message was accepted (readings committed to storage). */
  OK: 0,
  /** The message had been accepted before; nothing new was stored. */
  DUPLICATE: 1,
  /** rudp: the server holds no state for this session; send HELLO to resynchronise. */
  RESYNC: 2,
} as const;
export type AckStatusName = keyof typeof AckStatus;

/** BYE reasons. Unknown values are accepted and mean "unspecified". */
export const ByeReason = {
  NORMAL: 0,
  RESTART: 1,
  LOW_BATTERY: 2,
} as const;

/** Limits. Every one of them is enforced by the decoder and the encoder alike. */
export const Limits = {
  /** Largest message in a UDP datagram (whole datagram payload). */
  MAX_UDP_MESSAGE: 1200,
  /** Largest message on TCP (the value of the length prefix). */
  MAX_TCP_MESSAGE: 16384,
  /** Longest string or bytes value, in bytes. */
  MAX_STRING: 255,
  /** Readings in one READINGS message. */
  MAX_READINGS: 255,
  /** Sensors in one HELLO catalogue. */
  MAX_SENSORS: 64,
  /** Sensor ids in each list of a CONFIG. */
  MAX_CONFIG_SENSORS: 64,
  /** Selective-acknowledgement ranges in one rudp ACK. */
  MAX_SACK_RANGES: 8,
  /** Largest value of a varint. */
  MAX_VARINT: 0xffff_ffff,
  /** Longest varint in bytes. */
  MAX_VARINT_BYTES: 5,
  /** Largest 48-bit millisecond time. */
  MAX_TIME48: 2 ** 48 - 1,
  /** Geographic position range in units of 1e-7 degree. */
  MAX_LAT_E7: 900_000_000,
  MAX_LON_E7: 1_800_000_000,
} as const;

/** Length of the authentication tag (truncated HMAC-SHA-256). */
export const TAG_LENGTH = 8;

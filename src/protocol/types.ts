// The decoded form of every message: a discriminated union on `type`.
import type { AckStatusName, DeliveryClassName, ValueTypeName } from './constants.ts';

/** Fields every message carries in its header. */
export interface HeaderFields {
  /** Device the message is from (device → server) or for (server → device); 1 … 2³²−1, 0 = none. */
  readonly deviceId: number;
  /** Sender's sequence number, 1 … 2³²−1; 0 only where no sequence applies. */
  readonly seq: number;
  /** RELIABLE flag: the message belongs to an rudp session. (On ACK, see `Ack.rudp`.) */
  readonly reliable?: boolean;
  /**
   * AUTH flag: the 8-byte tag that ends the message. Set by the decoder when present; given to the
   * encoder, it is written as is (use the encoder's `key` option to compute a fresh one).
   */
  readonly tag?: Uint8Array;
}

/** A value with its type. 64-bit integers and timestamps are bigints; a timestamp counts µs. */
export type Value =
  | { readonly type: 'bool'; readonly value: boolean }
  | {
      readonly type: 'int8' | 'int16' | 'int32' | 'uint8' | 'uint16' | 'uint32' | 'float32' | 'float64';
      readonly value: number;
    }
  | { readonly type: 'int64' | 'uint64' | 'timestamp'; readonly value: bigint }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'bytes'; readonly value: Uint8Array }
  | { readonly type: 'geo'; readonly value: GeoPosition };

/** Latitude and longitude in degrees; carried on the wire in units of 1e-7 degree. */
export interface GeoPosition {
  readonly lat: number;
  readonly lon: number;
}

/** One reading: a sensor id, a time offset from the message's base time, and a typed value. */
export type Reading = {
  readonly sensor: number;
  /** Milliseconds after the READINGS message's `baseTime`. */
  readonly delta: number;
} & Value;

/** One catalogue entry of a HELLO. */
export interface SensorSpec {
  readonly id: number;
  readonly type: ValueTypeName;
  readonly delivery: DeliveryClassName;
  readonly unit: string;
  readonly name: string;
}

export interface Hello extends HeaderFields {
  readonly type: 'HELLO';
  /** Chosen by the device; a new session must use a larger number than the device's last one. */
  readonly session: number;
  /** Lowest sequence number of this session the device may still send (or resend). */
  readonly resumeSeq: number;
  /** The device's sampling interval in milliseconds. */
  readonly intervalMs: number;
  readonly model: string;
  readonly firmware: string;
  readonly sensors: readonly SensorSpec[];
}

export interface Readings extends HeaderFields {
  readonly type: 'READINGS';
  /** Milliseconds since 1970-01-01T00:00:00Z (48 bits on the wire). */
  readonly baseTime: number;
  readonly readings: readonly Reading[];
}

/** What a CONFIG carries, standalone or riding on an ACK. */
export interface ConfigBody {
  /** Increases with every new configuration the server issues to a device. */
  readonly configId: number;
  /** New sampling interval in milliseconds; 0 leaves it unchanged. */
  readonly intervalMs: number;
  readonly enable: readonly number[];
  readonly disable: readonly number[];
}

export interface Config extends HeaderFields, ConfigBody {
  readonly type: 'CONFIG';
}

/** A range of sequence numbers received above an rudp cumulative acknowledgement. */
export interface SackRange {
  readonly first: number;
  readonly last: number;
}

/** The fields an ACK carries in an rudp session (the RELIABLE flag on an ACK). */
export interface RudpAck {
  /** The server's epoch: changes when the server loses its session state (restart). */
  readonly epoch: number;
  /** How many messages past `ackSeq` the receiver will accept. */
  readonly window: number;
  readonly sack: readonly SackRange[];
}

export interface Ack extends HeaderFields {
  readonly type: 'ACK';
  readonly status: AckStatusName;
  /** The acknowledged sequence number; in an rudp session, every number up to it (cumulative). */
  readonly ackSeq: number;
  /** Server's clock when the acknowledged message arrived, ms since the Unix epoch. */
  readonly rxTime: number;
  /** Microseconds between arrival and sending this ACK (send time = rxTime·1000 + holdUs µs). */
  readonly holdUs: number;
  /** Present exactly when the RELIABLE flag is set. */
  readonly rudp?: RudpAck;
  /** A CONFIG riding on the ACK (the CONFIG flag). */
  readonly config?: ConfigBody;
}

export interface ErrorMessage extends HeaderFields {
  readonly type: 'ERROR';
  /** A number from the spec's error table (see `ErrorCode`); unknown numbers are kept as is. */
  readonly code: number;
  /** Sequence number of the message that caused the error, 0 if none or unknown. */
  readonly refSeq: number;
  readonly text: string;
}

export interface Ping extends HeaderFields {
  readonly type: 'PING';
}

export interface Pong extends HeaderFields {
  readonly type: 'PONG';
  /** Sequence number of the PING answered. */
  readonly pingSeq: number;
}

export interface Bye extends HeaderFields {
  readonly type: 'BYE';
  readonly reason: number;
}

export type Message = Hello | Readings | Ack | Config | ErrorMessage | Ping | Pong | Bye;
export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

/** AckStatus names, re-exported for callers that only import types. */
export type { AckStatusName, DeliveryClassName, ValueTypeName };

// Every error the protocol layer raises. Errors caused by wire data carry a stable `code`
// (listed with its number in PROTOCOL.md, "Error codes") and the byte offset where it was found.

/** Error codes: name → number carried in ERROR messages. */
export const ErrorCode = {
  // Malformed messages (raised by the decoder).
  TRUNCATED: 1,
  TRAILING_BYTES: 2,
  UNSUPPORTED_VERSION: 3,
  UNKNOWN_TYPE: 4,
  BAD_FLAGS: 5,
  BAD_VARINT: 6,
  BAD_VALUE: 7,
  UNKNOWN_VALUE_TYPE: 8,
  BAD_UTF8: 9,
  STRING_TOO_LONG: 10,
  BAD_COUNT: 11,
  MESSAGE_TOO_LARGE: 12,
  BAD_SENSOR: 13,
  BAD_SACK: 14,
  // Refusals by a peer that understood the message (raised by servers and devices).
  BAD_TAG: 32,
  REPLAY: 33,
  UNKNOWN_DEVICE: 34,
  UNKNOWN_SENSOR: 35,
  UNEXPECTED: 36,
  STORAGE: 37,
  BUSY: 38,
  IDLE_TIMEOUT: 39,
  GAVE_UP: 40,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

const NAMES_BY_NUMBER = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, number][]).map(([name, n]) => [n, name]),
);

/** The name of a numeric error code, or undefined for a number the spec does not list. */
export function errorCodeName(n: number): ErrorCodeName | undefined {
  return NAMES_BY_NUMBER.get(n);
}

/** Base class of every sensorwire error. */
export class SensorwireError extends Error {
  override name = 'SensorwireError';
}

/** Bytes that do not form a valid message, or a message that cannot be encoded. */
export class ProtocolError extends SensorwireError {
  override name = 'ProtocolError';
  readonly code: ErrorCodeName;
  /** Byte offset in the message (or stream) where the problem starts. */
  readonly offset: number;

  constructor(code: ErrorCodeName, offset: number, message: string, options?: { cause?: unknown }) {
    super(`${code} at byte ${offset}: ${message}`, options);
    this.code = code;
    this.offset = offset;
  }

  /** The number that stands for this error in an ERROR message. */
  get wireCode(): number {
    return ErrorCode[this.code];
  }
}

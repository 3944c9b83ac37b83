// The common header: byte 0 = version (high nibble) and type (low nibble), byte 1 = flags,
// then the device id and the sequence number as varints.
import { Flag, Limits, byCode, MessageType, RESERVED_FLAGS, TAG_LENGTH, VERSION, type MessageTypeName } from './constants.ts';
import { ProtocolError } from './errors.ts';
import { Reader } from './reader.ts';

const TYPE_BY_CODE = byCode<MessageTypeName>(MessageType);

export interface Header {
  readonly version: number;
  readonly type: MessageTypeName;
  readonly flags: number;
  readonly deviceId: number;
  readonly seq: number;
  /** Bytes the header takes. */
  readonly length: number;
}

export interface DecodeOptions {
  /** Largest message accepted, in bytes. Default: Limits.MAX_TCP_MESSAGE. */
  readonly maxMessageSize?: number;
}

/**
 * Reads the header and sets the reader's end before the authentication tag, if the AUTH flag is
 * set. Checks, in this order: size, version, type, flags, device id, sequence number.
 */
export function readHeader(r: Reader, options?: DecodeOptions): Header {
  const max = options?.maxMessageSize ?? Limits.MAX_TCP_MESSAGE;
  const size = r.end - r.offset;
  if (size > max) throw new ProtocolError('MESSAGE_TOO_LARGE', r.offset, `message is ${size} bytes, the limit is ${max}`);
  const start = r.offset;
  const b0 = r.u8('version and type');
  const version = b0 >> 4;
  if (version !== VERSION) {
    throw new ProtocolError('UNSUPPORTED_VERSION', start, `version ${version} is not supported (this receiver speaks ${VERSION})`);
  }
  const type = TYPE_BY_CODE[b0 & 0x0f];
  if (type === undefined) throw new ProtocolError('UNKNOWN_TYPE', start, `message type ${b0 & 0x0f} is not defined`);
  const flags = r.u8('flags');
  if ((flags & RESERVED_FLAGS) !== 0) {
    throw new ProtocolError('BAD_FLAGS', start + 1, `reserved flag bits are set (0x${flags.toString(16).padStart(2, '0')})`);
  }
  if ((flags & Flag.CONFIG) !== 0 && type !== 'ACK') {
    throw new ProtocolError('BAD_FLAGS', start + 1, `the CONFIG flag is only valid on ACK, not on ${type}`);
  }
  const deviceId = r.varint('device id');
  const seq = r.varint('sequence number');
  const length = r.offset - start;
  if ((flags & Flag.AUTH) !== 0) {
    if (r.remaining < TAG_LENGTH) {
      throw new ProtocolError('TRUNCATED', r.offset, `the AUTH flag is set but fewer than ${TAG_LENGTH} bytes follow the header`);
    }
    r.end -= TAG_LENGTH;
  }
  return { version, type, flags, deviceId, seq, length };
}

/** Decodes only the header of a message: enough to address a reply to a message whose body is bad. */
export function decodeHeader(bytes: Uint8Array, options?: DecodeOptions): Header {
  return readHeader(new Reader(bytes), options);
}

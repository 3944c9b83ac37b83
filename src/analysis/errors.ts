// Errors raised while reading capture files. A capture that cannot be read raises a
// CaptureFormatError whose `code` names the problem and whose `offset` is the byte position
// in the file where it was found; a file that cannot be opened raises a CaptureIoError.
// Frame dissection never throws: problems inside a frame are reported in its result instead.

/** Stable codes for capture-file errors; match on these, never on message text. */
export const CaptureErrorCode = {
  /** The file starts with neither a pcap magic number nor a pcapng Section Header Block. */
  BAD_MAGIC: 'PCAP_BAD_MAGIC',
  /** The file ends inside a header, a record or a block. */
  TRUNCATED: 'PCAP_TRUNCATED',
  /** A pcap or pcapng major version this reader does not know. */
  UNSUPPORTED_VERSION: 'PCAP_UNSUPPORTED_VERSION',
  /** A length field that contradicts the bytes around it (for example a packet longer than its block). */
  BAD_LENGTH: 'PCAP_BAD_LENGTH',
  /** A pcapng block whose total length is too small, not a multiple of 4, or not repeated at its end. */
  BAD_BLOCK: 'PCAPNG_BAD_BLOCK',
  /** A pcapng option that runs past the end of its block. */
  BAD_OPTION: 'PCAPNG_BAD_OPTION',
  /** A pcapng packet block naming an interface its section has not described. */
  UNKNOWN_INTERFACE: 'PCAPNG_UNKNOWN_INTERFACE',
  /** The capture file could not be read from disk. */
  IO: 'CAPTURE_IO',
} as const;
export type CaptureErrorCode = (typeof CaptureErrorCode)[keyof typeof CaptureErrorCode];

/** Base class of every error the capture reader raises. */
export class CaptureError extends Error {
  override name = 'CaptureError';
  readonly code: CaptureErrorCode;
  /** Byte offset in the file where the problem was found (0 for I/O errors). */
  readonly offset: number;

  constructor(code: CaptureErrorCode, offset: number, message: string, options?: { cause?: unknown }) {
    super(`${code} at byte ${offset}: ${message}`, options);
    this.code = code;
    this.offset = offset;
  }
}

/** The bytes are not a well-formed pcap or pcapng file. */
export class CaptureFormatError extends CaptureError {
  override name = 'CaptureFormatError';
}

/** The file could not be read; `cause` holds the underlying error from node:fs. */
export class CaptureIoError extends CaptureError {
  override name = 'CaptureIoError';
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(CaptureErrorCode.IO, 0, `${path}: ${message}`, options);
    this.path = path;
  }
}

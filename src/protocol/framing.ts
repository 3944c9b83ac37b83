// TCP framing: every message is preceded by its length as a varint. The stream decoder turns
// chunks of a byte stream into whole messages; it never buffers more than one frame and the
// bytes of its length prefix, and it refuses a length over the limit before reading the frame.
import { Limits } from './constants.ts';
import { decode, type DecodeOptions } from './decode.ts';
import { encode, type EncodeOptions } from './encode.ts';
import { ProtocolError } from './errors.ts';
import type { Message } from './types.ts';
import { Writer } from './writer.ts';

/** Encodes a message with its TCP length prefix. */
export function encodeFrame(message: Message, options?: EncodeOptions): Uint8Array {
  const body = encode(message, options);
  const w = new Writer(body.length + Limits.MAX_VARINT_BYTES);
  w.varint(body.length);
  w.bytes(body);
  return w.finish();
}

/** One frame taken from the stream: its message, or why its bytes are not a message. */
export type Frame =
  | { readonly ok: true; readonly message: Message; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly error: ProtocolError; readonly bytes: Uint8Array };

export interface StreamDecoderOptions extends DecodeOptions {}

/**
 * Splits a TCP byte stream into frames and decodes each.
 *
 * `write(chunk)` returns every frame the chunk completes, in order. A frame whose body is not a
 * valid message comes back as `{ ok: false }` and decoding goes on with the next frame: the length
 * prefix keeps the stream in step. A bad length prefix (malformed, zero, or over the limit) ends
 * the stream: it comes back as a last `{ ok: false }` frame, and every later write throws.
 */
export class StreamDecoder {
  private readonly maxMessageSize: number;
  private readonly options: DecodeOptions;
  /** Chunks of an unfinished frame, joined only once the frame is complete. */
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  /** Bytes the unfinished frame needs in all (prefix included), once its prefix is known. */
  private needed = 0;
  /** Bytes of the stream consumed before the pending ones (for error offsets). */
  private consumed = 0;
  private failed: ProtocolError | undefined;

  constructor(options?: StreamDecoderOptions) {
    this.maxMessageSize = options?.maxMessageSize ?? Limits.MAX_TCP_MESSAGE;
    this.options = { maxMessageSize: this.maxMessageSize };
  }

  /** Bytes held while waiting for the rest of a frame; never more than the largest frame + 5. */
  get buffered(): number {
    return this.pendingLength;
  }

  /** The error that ended the stream, if one did. */
  get error(): ProtocolError | undefined {
    return this.failed;
  }

  write(chunk: Uint8Array): Frame[] {
    if (this.failed) throw this.failed;
    if (chunk.length === 0) return [];
    if (this.needed > 0 && this.pendingLength + chunk.length < this.needed) {
      // Still short of a whole frame: hold the chunk without copying what came before.
      this.pending.push(chunk.slice());
      this.pendingLength += chunk.length;
      return [];
    }
    const data = this.pendingLength === 0 ? chunk : concat([...this.pending, chunk], this.pendingLength + chunk.length);
    const frames: Frame[] = [];
    let at = 0;
    this.needed = 0;
    while (at < data.length) {
      const prefix = readPrefix(data, at, this.consumed + at, this.maxMessageSize);
      if (prefix instanceof ProtocolError) {
        this.failed = prefix;
        this.pending = [];
        this.pendingLength = 0;
        frames.push({ ok: false, error: prefix, bytes: data.slice(at) });
        return frames;
      }
      if (prefix === undefined) break;
      const end = at + prefix.prefixLength + prefix.length;
      if (end > data.length) {
        this.needed = prefix.prefixLength + prefix.length;
        break;
      }
      const bytes = data.slice(at + prefix.prefixLength, end);
      try {
        frames.push({ ok: true, message: decode(bytes, this.options), bytes });
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        frames.push({ ok: false, error, bytes });
      }
      at = end;
    }
    this.consumed += at;
    // Keep only the unfinished frame, copied so that the caller may reuse its chunk.
    const rest = data.length - at;
    this.pending = rest === 0 ? [] : [data.slice(at)];
    this.pendingLength = rest;
    return frames;
  }
}

/**
 * Reads a length prefix at `at`: its value and size, undefined when the prefix is still
 * incomplete, or the error that makes the stream unusable.
 */
function readPrefix(
  data: Uint8Array,
  at: number,
  streamOffset: number,
  max: number,
): { length: number; prefixLength: number } | ProtocolError | undefined {
  let value = 0;
  let scale = 1; // not 2 ** (7 * i), which V8 computes with pow() (src/protocol/reader.ts)
  for (let i = 0; i < Limits.MAX_VARINT_BYTES; i++, scale *= 0x80) {
    const byte = data[at + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) return new ProtocolError('BAD_VARINT', streamOffset, 'frame length is not minimally encoded');
      if (value === 0) return new ProtocolError('TRUNCATED', streamOffset, 'frame length is 0: a message has at least 4 bytes');
      if (value > max) return new ProtocolError('MESSAGE_TOO_LARGE', streamOffset, `frame length ${value} exceeds the limit of ${max}`);
      return { length: value, prefixLength: i + 1 };
    }
  }
  return new ProtocolError('BAD_VARINT', streamOffset, `frame length prefix is longer than ${Limits.MAX_VARINT_BYTES} bytes`);
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// The sensorwire protocol, v1: types, encoder, decoder, TCP framing and the authentication tag.
// Pure: no sockets, no files. PROTOCOL.md is the specification this implements.
export * from './constants.ts';
export * from './errors.ts';
export type * from './types.ts';
export { encode, writeMessage, type EncodeOptions } from './encode.ts';
export { decode, type DecodeOptions } from './decode.ts';
export { decodeHeader, type Header } from './header.ts';
export { encodeFrame, StreamDecoder, type Frame, type StreamDecoderOptions } from './framing.ts';
export { computeTag, verifyTag, hmacSha256, type MacFunction } from './auth.ts';
export { FIXED_SIZE } from './values.ts';
export * from './json.ts';

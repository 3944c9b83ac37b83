// UDP headers: ports, the length field and the checksum.
import { type FrameView, IssueCode, LayerName } from './frame.ts';

export const UDP_HEADER_BYTES = 8;

export interface UdpHeader {
  readonly protocol: 'udp';
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** The length field as written (header included). */
  readonly lengthField: number;
  /** Always 8. */
  readonly headerLength: number;
  readonly checksum: number;
  /**
   * Payload bytes on the wire: from the length field when it fits the IP payload, otherwise
   * (and for fragments) the IP payload minus the header.
   */
  readonly payloadLength: number;
}

/**
 * Parses a UDP header at `offset`; `available` is the IP payload length on the wire and
 * `fragmented` says the datagram is the first of several fragments (so the length field
 * covers more than this frame).
 */
export function parseUdp(frame: FrameView, offset: number, available: number, fragmented: boolean): UdpHeader | null {
  if (available < UDP_HEADER_BYTES) {
    frame.issue(IssueCode.BAD_LENGTH, LayerName.UDP, offset, `datagram of ${available} bytes is shorter than a UDP header`);
    return null;
  }
  if (!frame.require(offset, UDP_HEADER_BYTES, LayerName.UDP, 'UDP header')) return null;
  const lengthField = frame.u16(offset + 4);
  let payloadLength = available - UDP_HEADER_BYTES;
  if (!fragmented) {
    if (lengthField < UDP_HEADER_BYTES || lengthField > available) {
      frame.issue(
        IssueCode.BAD_LENGTH,
        LayerName.UDP,
        offset + 4,
        `length field ${lengthField} does not fit the ${available}-byte IP payload`,
      );
    } else {
      payloadLength = lengthField - UDP_HEADER_BYTES;
    }
  }
  return {
    protocol: 'udp',
    sourcePort: frame.u16(offset),
    destinationPort: frame.u16(offset + 2),
    lengthField,
    headerLength: UDP_HEADER_BYTES,
    checksum: frame.u16(offset + 6),
    payloadLength,
  };
}

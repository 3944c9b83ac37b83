// Property tests: random and mutated bytes only ever give a result or a CaptureFormatError from
// the reader, and the dissector never throws, never reads past the captured bytes and always
// accounts for every byte of the frame.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CaptureFormatError } from '../../src/analysis/errors.ts';
import { buildFlows } from '../../src/analysis/flows.ts';
import { LinkType } from '../../src/analysis/link-types.ts';
import { type CaptureFile, readCapture } from '../../src/analysis/pcap.ts';
import { dissect, type Packet } from '../../src/analysis/packet.ts';
import { ethernet, ipv4, ipv6, tcp, tcp4Frame, udp, udp4Frame } from './frames.ts';
import { classicPcap, concat, epb, hex, idb, shb, spb } from './pcap-build.ts';

const RUNS = 2000;

/** Reads `bytes`, accepting only success or a CaptureFormatError. */
function readOrFormatError(bytes: Uint8Array): CaptureFile | null {
  try {
    return readCapture(bytes);
  } catch (error) {
    if (error instanceof CaptureFormatError) return null;
    throw error;
  }
}

function checkPacket(p: Packet, data: Uint8Array, originalLength: number): void {
  const b = p.bytes;
  for (const v of Object.values(b)) assert.ok(Number.isInteger(v) && v >= 0, `layer byte count ${v}`);
  assert.equal(b.link + b.ip + b.transport + b.payload + b.trailer, Math.max(originalLength, data.length));
  assert.ok(p.payload.length <= p.payloadLength);
  assert.ok(p.payload.byteOffset >= data.byteOffset);
  assert.ok(p.payload.byteOffset + p.payload.length <= data.byteOffset + data.length);
  for (const issue of p.issues) assert.ok(typeof issue.code === 'string' && issue.offset >= 0);
}

const SAMPLE_FRAMES: Uint8Array[] = [
  tcp4Frame('10.0.0.1', '10.0.0.2', {
    sport: 1234,
    dport: 80,
    seq: 7,
    flags: 0x02,
    options: hex('020405b4 0402 080a0000000100000000 01 030307'),
  }),
  tcp4Frame('10.0.0.1', '10.0.0.2', { sport: 1234, dport: 80, seq: 8, ack: 9, flags: 0x18, payload: hex('0102030405') }),
  udp4Frame('10.0.0.1', '10.0.0.2', 5353, 53, hex('68690000')),
  ethernet(0x86dd, ipv6(0, '::1', '::2', concat(hex('2c00 0104 00000000'), hex('1100 0000 00000001'), udp(1, 2, hex('aa'))))),
  ethernet(0x86dd, ipv6(6, '::1', '::2', tcp({ sport: 1, dport: 2, seq: 3, flags: 0x10, payload: hex('bb') }))),
  concat(hex('ffffffffffff 020000000001 8100 0064 0800'), ipv4(17, '1.2.3.4', '5.6.7.8', udp(1, 2, hex('cc')))),
];

const LINK_TYPES = [
  LinkType.ETHERNET,
  LinkType.LINUX_SLL,
  LinkType.LINUX_SLL2,
  LinkType.NULL,
  LinkType.LOOP,
  LinkType.RAW,
  LinkType.IPV4,
  LinkType.IPV6,
  LinkType.RAW_BSD_12,
];

/** A frame with some bytes overwritten and maybe cut short. */
const mutatedFrame = fc
  .record({
    base: fc.constantFrom(...SAMPLE_FRAMES),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.nat(),
    extra: fc.nat({ max: 70_000 }),
  })
  .map(({ base, edits, cut, extra }) => {
    const data = Uint8Array.from(base);
    for (const [at, value] of edits) data[at % data.length] = value;
    const captured = data.subarray(0, cut % (data.length + 1));
    return { data: captured, originalLength: data.length + (extra % 3 === 0 ? extra : 0) };
  });

describe('dissector properties', () => {
  it('never throws on random bytes of any link type', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.oneof(fc.constantFrom(...LINK_TYPES), fc.integer({ min: 0, max: 300 })),
        fc.nat({ max: 100_000 }),
        (data, linkType, more) => {
          const originalLength = data.length + more;
          checkPacket(dissect(data, linkType, originalLength), data, originalLength);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never throws on mutated or cut real-looking frames, and never reads past the capture', () => {
    fc.assert(
      fc.property(mutatedFrame, fc.constantFrom(...LINK_TYPES), ({ data, originalLength }, linkType) => {
        // A copy in a buffer of exactly the captured size: reading beyond it would throw.
        const exact = Uint8Array.from(data);
        checkPacket(dissect(exact, linkType, originalLength), exact, originalLength);
      }),
      { numRuns: RUNS },
    );
  });

  it('ignores bytes beyond the captured view even when the buffer holds more', () => {
    fc.assert(
      fc.property(mutatedFrame, ({ data, originalLength }) => {
        const inBigBuffer = concat(data, new Uint8Array(64).fill(0x45));
        const view = inBigBuffer.subarray(0, data.length);
        const a = dissect(view, LinkType.ETHERNET, originalLength);
        const b = dissect(Uint8Array.from(data), LinkType.ETHERNET, originalLength);
        assert.deepEqual(a.bytes, b.bytes);
        assert.deepEqual(a.issues, b.issues);
      }),
      { numRuns: RUNS / 2 },
    );
  });
});

describe('reader properties', () => {
  const classic = classicPcap({
    order: 'little',
    linkType: 1,
    records: SAMPLE_FRAMES.map((data, i) => ({ data, seconds: i, fraction: i })),
  });
  const classicBig = classicPcap({
    order: 'big',
    nanoseconds: true,
    linkType: 1,
    records: SAMPLE_FRAMES.map((data) => ({ data })),
  });
  const pcapng = concat(
    shb('little'),
    idb('little', 1, { tsresol: 9, name: 'eth0' }),
    ...SAMPLE_FRAMES.map((data, i) => epb('little', 0, BigInt(i), data)),
    spb('little', SAMPLE_FRAMES[0] ?? new Uint8Array(0)),
    shb('big'),
    idb('big', 101),
    epb('big', 0, 5n, hex('4500001400000000401100000a0000010a000002')),
  );

  it('gives a result or a CaptureFormatError for random bytes', () => {
    const prefix = fc.constantFrom(
      new Uint8Array(0),
      hex('d4c3b2a1'),
      hex('a1b2c3d4'),
      hex('4d3cb2a1'),
      hex('0a0d0d0a'),
      hex('0a0d0d0a 1c000000 4d3c2b1a'),
    );
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 300 }), (head, tail) => {
        readOrFormatError(concat(head, tail));
      }),
      { numRuns: RUNS },
    );
  });

  it('gives a result or a CaptureFormatError for mutated and cut files, and flows never throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(classic, classicBig, pcapng),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.option(fc.nat()),
        (file, edits, cut) => {
          const bytes = Uint8Array.from(file);
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          const input = cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
          const capture = readOrFormatError(input);
          if (capture === null) return;
          for (const record of capture.records) {
            assert.ok(record.data.length === record.capturedLength);
            assert.ok(record.data.byteOffset + record.data.length <= input.byteOffset + input.length);
          }
          buildFlows(capture.records);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('reads the unmutated files', () => {
    assert.equal(readCapture(classic).records.length, SAMPLE_FRAMES.length);
    assert.equal(readCapture(classicBig).records.length, SAMPLE_FRAMES.length);
    assert.equal(readCapture(pcapng).records.length, SAMPLE_FRAMES.length + 2);
  });
});

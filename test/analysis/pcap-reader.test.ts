// The capture reader on hand-built files: classic pcap in both byte orders and timestamp
// units, pcapng with several sections and interfaces, every packet block type, timestamp
// resolutions and offsets, and malformed files (checked by error code and offset).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CaptureError,
  CaptureErrorCode,
  CaptureFormatError,
  CaptureIoError,
} from '../../src/analysis/errors.ts';
import { captureRecords, readCapture, readCaptureFile } from '../../src/analysis/pcap.ts';
import { formatEpochNs, ticksToNs } from '../../src/analysis/time.ts';
import {
  block,
  classicPcap,
  concat,
  endOfOptions,
  epb,
  hex,
  idb,
  opb,
  option,
  type Order,
  shb,
  spb,
} from './pcap-build.ts';

const FRAME_A = hex('0102030405060708090a');
const FRAME_B = hex('a1a2a3');

/** Asserts that `run` throws a CaptureFormatError with this code (and offset, if given). */
function rejects(run: () => unknown, code: CaptureErrorCode, offset?: number): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CaptureFormatError, `expected a CaptureFormatError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.name, 'CaptureFormatError');
    if (offset !== undefined) assert.equal(error.offset, offset);
    return true;
  });
}

describe('classic pcap', () => {
  for (const order of ['little', 'big'] as const) {
    for (const nanoseconds of [false, true]) {
      it(`reads ${order}-endian files with ${nanoseconds ? 'nano' : 'micro'}second timestamps`, () => {
        const bytes = classicPcap({
          order,
          nanoseconds,
          linkType: 1,
          snapLength: 65535,
          records: [
            { data: FRAME_A, seconds: 1_700_000_000, fraction: 123_456 },
            { data: FRAME_B, originalLength: 1514, seconds: 1_700_000_001, fraction: 999_999 },
          ],
        });
        const capture = readCapture(bytes);
        assert.equal(capture.format, 'pcap');
        assert.equal(capture.byteOrder, order);
        assert.equal(capture.interfaces.length, 1);
        assert.equal(capture.interfaces[0]?.snapLength, 65535);
        assert.deepEqual(capture.interfaces[0]?.tsResolution, { base: 10, exponent: nanoseconds ? 9 : 6 });
        const unit = nanoseconds ? 1n : 1000n;
        assert.deepEqual(
          capture.records.map((r) => [r.index, r.timestampNs, r.capturedLength, r.originalLength, r.linkType, r.interfaceId, r.fileOffset]),
          [
            [0, 1_700_000_000_000_000_000n + 123_456n * unit, 10, 10, 1, 0, 24],
            [1, 1_700_000_001_000_000_000n + 999_999n * unit, 3, 1514, 1, 0, 50],
          ],
        );
        assert.deepEqual(capture.records[0]?.data, FRAME_A);
        assert.deepEqual(capture.records[1]?.data, FRAME_B);
      });
    }
  }

  it('reads an empty capture (header only)', () => {
    const capture = readCapture(classicPcap({ order: 'little', linkType: 113, records: [] }));
    assert.deepEqual(capture.records, []);
    assert.equal(capture.interfaces[0]?.linkType, 113);
  });

  it('ignores the FCS bits above the link type', () => {
    const capture = readCapture(classicPcap({ order: 'big', linkType: 0x1400_0001, records: [{ data: FRAME_A }] }));
    assert.equal(capture.records[0]?.linkType, 1);
  });

  it('returns frame data as views into the file, not copies', () => {
    const bytes = classicPcap({ order: 'little', linkType: 1, records: [{ data: FRAME_A }] });
    const record = readCapture(bytes).records[0];
    assert.equal(record?.data.buffer, bytes.buffer);
    assert.equal(record?.data.byteOffset, bytes.byteOffset + 40);
  });

  it('rejects malformed files with a code and the offset of the problem', () => {
    const good = classicPcap({ order: 'little', linkType: 1, records: [{ data: FRAME_A }, { data: FRAME_B }] });
    rejects(() => readCapture(new Uint8Array(0)), 'PCAP_TRUNCATED', 0);
    rejects(() => readCapture(good.subarray(0, 3)), 'PCAP_TRUNCATED', 0);
    rejects(() => readCapture(good.subarray(0, 20)), 'PCAP_TRUNCATED', 0);
    rejects(() => readCapture(hex('deadbeef' + '00'.repeat(20))), 'PCAP_BAD_MAGIC', 0);
    rejects(() => readCapture(hex('d4c3b2a1')), 'PCAP_TRUNCATED', 0);
    rejects(() => readCapture(classicPcap({ order: 'big', versionMajor: 3, linkType: 1, records: [] })), 'PCAP_UNSUPPORTED_VERSION', 4);
    // Cut inside the second record's header, then inside its data.
    rejects(() => readCapture(good.subarray(0, 24 + 26 + 8)), 'PCAP_TRUNCATED', 50);
    rejects(() => readCapture(good.subarray(0, good.length - 1)), 'PCAP_TRUNCATED', 50);
  });

  it('refuses a lying captured length without allocating it', () => {
    const bytes = classicPcap({
      order: 'little',
      linkType: 1,
      records: [{ data: FRAME_A, capturedLengthField: 0xffff_fff0 }],
    });
    rejects(() => readCapture(bytes), 'PCAP_TRUNCATED', 24);
  });

  it('yields the frames before a problem when read lazily', () => {
    const good = classicPcap({ order: 'little', linkType: 1, records: [{ data: FRAME_A }, { data: FRAME_B }] });
    const seen: number[] = [];
    rejects(() => {
      for (const record of captureRecords(good.subarray(0, good.length - 1))) seen.push(record.index);
    }, 'PCAP_TRUNCATED');
    assert.deepEqual(seen, [0]);
  });
});

describe('pcapng', () => {
  function twoSections(first: Order, second: Order): Uint8Array {
    return concat(
      shb(first, [option(first, 4, new TextEncoder().encode('sensorwire test')), endOfOptions(first)]),
      idb(first, 1, { snapLength: 262144, name: 'lo' }),
      idb(first, 113, { tsresol: 9 }),
      epb(first, 0, 1_700_000_000_123_456n, FRAME_A),
      block(first, 0x0000_0bad, hex('cafebabe')), // unknown block type: skipped
      block(first, 4, hex('0000 0000')), // name resolution block: skipped
      epb(first, 1, 1_700_000_000_123_456_789n, FRAME_B, 60),
      spb(first, FRAME_A, 10),
      shb(second),
      idb(second, 101, { tsresol: 0x80 | 20, tsoffset: 100n }),
      epb(second, 0, 3n * 2n ** 20n + 2n ** 19n, FRAME_B),
      opb(second, 0, 2n ** 20n, FRAME_A, 1500),
    );
  }

  for (const [first, second] of [
    ['little', 'big'],
    ['big', 'little'],
  ] as const) {
    it(`reads a ${first}-endian section followed by a ${second}-endian one`, () => {
      const capture = readCapture(twoSections(first, second));
      assert.equal(capture.format, 'pcapng');
      assert.equal(capture.byteOrder, first);
      assert.deepEqual(
        capture.interfaces.map((i) => [i.id, i.section, i.sectionInterfaceId, i.linkType, i.byteOrder, i.name]),
        [
          [0, 0, 0, 1, first, 'lo'],
          [1, 0, 1, 113, first, undefined],
          [2, 1, 0, 101, second, undefined],
        ],
      );
      assert.deepEqual(
        capture.records.map((r) => [r.index, r.interfaceId, r.linkType, r.timestampNs, r.capturedLength, r.originalLength]),
        [
          [0, 0, 1, 1_700_000_000_123_456_000n, 10, 10],
          [1, 1, 113, 1_700_000_000_123_456_789n, 3, 60],
          [2, 0, 1, null, 10, 10],
          [3, 2, 101, 103_500_000_000n, 3, 3],
          [4, 2, 101, 101_000_000_000n, 10, 1500],
        ],
      );
      assert.deepEqual(capture.records[0]?.data, FRAME_A);
      assert.deepEqual(capture.records[1]?.data, FRAME_B);
      assert.deepEqual(capture.records[2]?.data, FRAME_A);
      assert.deepEqual(capture.records[3]?.data, FRAME_B);
    });
  }

  it('limits a simple packet block to the snap length and to its own bytes', () => {
    // An SPB has no captured-length field: the captured bytes are the fewest of the original
    // length, the snap length and the block's data (padding included).
    const capture = readCapture(
      concat(
        shb('little'),
        idb('little', 1, { snapLength: 8 }),
        spb('little', FRAME_A, 1514),
        spb('little', FRAME_B, 1514),
        spb('little', FRAME_B, 3),
      ),
    );
    assert.deepEqual(
      capture.records.map((r) => [r.capturedLength, r.originalLength]),
      [
        [8, 1514],
        [4, 1514],
        [3, 3],
      ],
    );
    assert.deepEqual(capture.records[0]?.data, FRAME_A.subarray(0, 8));
    assert.deepEqual(capture.records[2]?.data, FRAME_B);
  });

  it('rejects malformed blocks with a code and the offset of the problem', () => {
    const head = concat(shb('little'), idb('little', 1));
    const at = head.length;
    const ok = (tail: Uint8Array): Uint8Array => concat(head, tail);
    rejects(() => readCapture(ok(block('little', 6, new Uint8Array(0), 10))), 'PCAPNG_BAD_BLOCK', at + 4);
    rejects(() => readCapture(ok(block('little', 6, new Uint8Array(20), 30))), 'PCAPNG_BAD_BLOCK', at + 4);
    rejects(() => readCapture(ok(block('little', 6, new Uint8Array(20), 0x7fff_fff0))), 'PCAP_TRUNCATED', at);
    const mismatch = ok(epb('little', 0, 0n, FRAME_A));
    mismatch.set([0xff], mismatch.length - 4);
    rejects(() => readCapture(mismatch), 'PCAPNG_BAD_BLOCK', mismatch.length - 4);
    rejects(() => readCapture(ok(epb('little', 5, 0n, FRAME_A))), 'PCAPNG_UNKNOWN_INTERFACE', at + 8);
    rejects(() => readCapture(ok(epb('little', 0, 0n, FRAME_A, 10, 0x10000))), 'PCAP_BAD_LENGTH', at + 20);
    rejects(() => readCapture(ok(block('little', 6, new Uint8Array(8)))), 'PCAPNG_BAD_BLOCK', at + 4);
    rejects(() => readCapture(concat(shb('little'), spb('little', FRAME_A))), 'PCAPNG_UNKNOWN_INTERFACE');
    rejects(() => readCapture(head.subarray(0, head.length - 2)), 'PCAP_TRUNCATED');
    rejects(() => readCapture(concat(head, hex('060000')).subarray(0, at + 3)), 'PCAP_TRUNCATED', at);
  });

  it('rejects an option that runs past its block', () => {
    const badOption = concat(hex('0900 4000'), new Uint8Array(4)); // if_tsresol claiming 64 bytes
    const body = concat(hex('0100 0000 00000000'), badOption);
    rejects(() => readCapture(concat(shb('little'), block('little', 1, body))), 'PCAPNG_BAD_OPTION', 28 + 8 + 8);
  });

  it('rejects bad section headers', () => {
    const bom = shb('little');
    bom.set(hex('01020304'), 8);
    rejects(() => readCapture(bom), 'PCAP_BAD_MAGIC', 8);
    rejects(() => readCapture(shb('big', [], 2)), 'PCAP_UNSUPPORTED_VERSION', 12);
    const second = concat(shb('little'), idb('little', 1), bom);
    rejects(() => readCapture(second), 'PCAPNG_BAD_BLOCK', 28 + 20 + 8);
    rejects(() => readCapture(block('little', 0x0a0d0d0a, hex('4d3c2b1a 0100 0000'))), 'PCAPNG_BAD_BLOCK');
  });
});

describe('timestamps', () => {
  it('converts ticks of any resolution to nanoseconds, truncating', () => {
    assert.equal(ticksToNs(1_500_000n, { base: 10, exponent: 6 }), 1_500_000_000n);
    assert.equal(ticksToNs(1_500_000_000n, { base: 10, exponent: 9 }), 1_500_000_000n);
    assert.equal(ticksToNs(15n, { base: 10, exponent: 1 }), 1_500_000_000n);
    assert.equal(ticksToNs(1_500_000_000_999n, { base: 10, exponent: 12 }), 1_500_000_000n);
    assert.equal(ticksToNs(3n, { base: 2, exponent: 1 }), 1_500_000_000n);
    assert.equal(ticksToNs(1n, { base: 2, exponent: 30 }), 0n);
    assert.equal(ticksToNs(1n << 30n, { base: 2, exponent: 30 }), 1_000_000_000n);
  });

  it('formats nanoseconds as tshark prints frame.time_epoch', () => {
    assert.equal(formatEpochNs(1_795_469_137_979_452_000n), '1795469137.979452000');
    assert.equal(formatEpochNs(5n), '0.000000005');
    assert.equal(formatEpochNs(-1_500_000_000n), '-1.500000000');
  });
});

describe('errors', () => {
  it('reports an unreadable file as CAPTURE_IO with the fs error as cause', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sensorwire-pcap-'));
    try {
      const path = join(dir, 'missing.pcap');
      assert.throws(
        () => readCaptureFile(path),
        (error: unknown) => {
          assert.ok(error instanceof CaptureIoError);
          assert.ok(error instanceof CaptureError);
          assert.equal(error.code, 'CAPTURE_IO');
          assert.equal(error.name, 'CaptureIoError');
          assert.equal(error.path, path);
          assert.ok(error.cause instanceof Error && 'code' in error.cause && error.cause.code === 'ENOENT');
          return true;
        },
      );
      assert.throws(() => readCaptureFile(dir), (error: unknown) => error instanceof CaptureIoError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every format error is a CaptureError carrying a listed code', () => {
    const error = new CaptureFormatError(CaptureErrorCode.BAD_MAGIC, 7, 'x', { cause: 'inner' });
    assert.ok(error instanceof CaptureError && error instanceof Error);
    assert.equal(error.cause, 'inner');
    assert.equal(error.offset, 7);
    assert.ok(Object.values(CaptureErrorCode).includes(error.code));
  });
});

// Builders for capture files and frames used by the analysis tests: classic pcap and pcapng in
// either byte order, and byte-order swappers that turn a little-endian file written by
// tcpdump/editcap into its big-endian twin (written independently of the reader under test).

/** Bytes from hex text; whitespace and `#` comments to the end of a line are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${clean}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

export type Order = 'little' | 'big';

/** Little helper writing fixed-size fields in one byte order. */
class Fields {
  private readonly parts: Uint8Array[] = [];
  constructor(private readonly order: Order) {}

  u8(v: number): this {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.order === 'little');
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, this.order === 'little');
    this.parts.push(b);
    return this;
  }
  i64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, v, this.order === 'little');
    this.parts.push(b);
    return this;
  }
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  pad4(): this {
    const length = this.parts.reduce((n, p) => n + p.length, 0);
    if (length % 4 !== 0) this.parts.push(new Uint8Array(4 - (length % 4)));
    return this;
  }
  done(): Uint8Array {
    return concat(...this.parts);
  }
}

export interface RecordSpec {
  readonly data: Uint8Array;
  readonly originalLength?: number;
  readonly seconds?: number;
  /** Microseconds, or nanoseconds in a nanosecond file. */
  readonly fraction?: number;
  /** Overrides the captured-length field (to write lying files). */
  readonly capturedLengthField?: number;
}

export function classicPcap(options: {
  order: Order;
  nanoseconds?: boolean;
  linkType: number;
  snapLength?: number;
  versionMajor?: number;
  records: readonly RecordSpec[];
}): Uint8Array {
  const f = new Fields(options.order)
    .u32(options.nanoseconds === true ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(options.versionMajor ?? 2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(options.snapLength ?? 262144)
    .u32(options.linkType);
  for (const r of options.records) {
    f.u32(r.seconds ?? 0)
      .u32(r.fraction ?? 0)
      .u32(r.capturedLengthField ?? r.data.length)
      .u32(r.originalLength ?? r.data.length)
      .bytes(r.data);
  }
  return f.done();
}

/** A pcapng block: type, total length, body padded to 4 bytes, total length. */
export function block(order: Order, type: number, body: Uint8Array, totalLengthOverride?: number): Uint8Array {
  const padded = new Fields(order).bytes(body).pad4().done();
  const total = totalLengthOverride ?? padded.length + 12;
  return new Fields(order).u32(type).u32(total).bytes(padded).u32(total).done();
}

/** One option: code, length, value padded to 4. */
export function option(order: Order, code: number, value: Uint8Array): Uint8Array {
  return new Fields(order).u16(code).u16(value.length).bytes(value).pad4().done();
}

export function endOfOptions(order: Order): Uint8Array {
  return new Fields(order).u16(0).u16(0).done();
}

export function shb(order: Order, options: Uint8Array[] = [], versionMajor = 1): Uint8Array {
  const body = new Fields(order).u32(0x1a2b3c4d).u16(versionMajor).u16(0).i64(-1n);
  for (const o of options) body.bytes(o);
  return block(order, 0x0a0d0d0a, body.done());
}

export function idb(
  order: Order,
  linkType: number,
  options: { snapLength?: number; tsresol?: number; tsoffset?: bigint; name?: string } = {},
): Uint8Array {
  const body = new Fields(order).u16(linkType).u16(0).u32(options.snapLength ?? 0);
  if (options.name !== undefined) body.bytes(option(order, 2, new TextEncoder().encode(options.name)));
  if (options.tsresol !== undefined) body.bytes(option(order, 9, Uint8Array.of(options.tsresol)));
  if (options.tsoffset !== undefined) body.bytes(option(order, 14, new Fields(order).i64(options.tsoffset).done()));
  if (options.name !== undefined || options.tsresol !== undefined || options.tsoffset !== undefined) {
    body.bytes(endOfOptions(order));
  }
  return block(order, 1, body.done());
}

export function epb(
  order: Order,
  interfaceId: number,
  ticks: bigint,
  data: Uint8Array,
  originalLength = data.length,
  capturedLengthField = data.length,
): Uint8Array {
  const body = new Fields(order)
    .u32(interfaceId)
    .u32(Number(ticks >> 32n))
    .u32(Number(ticks & 0xffffffffn))
    .u32(capturedLengthField)
    .u32(originalLength)
    .bytes(data)
    .pad4();
  return block(order, 6, body.done());
}

export function opb(order: Order, interfaceId: number, ticks: bigint, data: Uint8Array, originalLength = data.length): Uint8Array {
  const body = new Fields(order)
    .u16(interfaceId)
    .u16(0)
    .u32(Number(ticks >> 32n))
    .u32(Number(ticks & 0xffffffffn))
    .u32(data.length)
    .u32(originalLength)
    .bytes(data)
    .pad4();
  return block(order, 2, body.done());
}

export function spb(order: Order, data: Uint8Array, originalLength = data.length): Uint8Array {
  return block(order, 3, new Fields(order).u32(originalLength).bytes(data).pad4().done());
}

function swapInPlace(bytes: Uint8Array, offset: number, size: 2 | 4 | 8): void {
  bytes.subarray(offset, offset + size).reverse();
}

/** A big-endian copy of a little-endian classic pcap (or the reverse): swaps every header field. */
export function swapClassicPcap(input: Uint8Array): Uint8Array {
  const out = Uint8Array.from(input);
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  for (const [at, size] of [
    [0, 4],
    [4, 2],
    [6, 2],
    [8, 4],
    [12, 4],
    [16, 4],
    [20, 4],
  ] as const) {
    swapInPlace(out, at, size);
  }
  let offset = 24;
  while (offset + 16 <= input.length) {
    const captured = view.getUint32(offset + 8, little);
    for (let i = 0; i < 4; i++) swapInPlace(out, offset + 4 * i, 4);
    offset += 16 + captured;
  }
  return out;
}

/** Option codes whose values are 4- or 8-byte numbers, by block type. */
const NUMERIC_OPTIONS: Record<number, Record<number, 4 | 8>> = {
  1: { 8: 8, 14: 8, 16: 8, 17: 8 }, // if_speed, if_tsoffset, if_txspeed, if_rxspeed
  6: { 2: 4, 4: 8, 5: 8, 6: 4 }, // epb_flags, epb_dropcount, epb_packetid, epb_queue
};

/**
 * The byte-swapped twin of a pcapng file: section headers, interface descriptions, enhanced
 * and simple packet blocks, with their options. Other block types are dropped.
 */
export function swapPcapng(input: Uint8Array): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const parts: Uint8Array[] = [];
  let offset = 0;
  let little = true;
  while (offset + 12 <= input.length) {
    const type = view.getUint32(offset, little);
    if (type === 0x0a0d0d0a) little = view.getUint32(offset + 8, true) === 0x1a2b3c4d;
    const total = view.getUint32(offset + 4, little);
    const blockBytes = Uint8Array.from(input.subarray(offset, offset + total));
    const fixed: Record<number, (2 | 4 | 8)[]> = {
      0x0a0d0d0a: [4, 2, 2, 8],
      1: [2, 2, 4],
      3: [4],
      6: [4, 4, 4, 4, 4],
    };
    const layout = fixed[type];
    if (layout !== undefined) {
      swapInPlace(blockBytes, 0, 4);
      swapInPlace(blockBytes, 4, 4);
      swapInPlace(blockBytes, total - 4, 4);
      let at = 8;
      for (const size of layout) {
        swapInPlace(blockBytes, at, size);
        at += size;
      }
      if (type === 6) at += (view.getUint32(offset + 20, little) + 3) & ~3;
      if (type === 3) at = total - 4; // no options
      const numeric = NUMERIC_OPTIONS[type] ?? {};
      while (at + 4 <= total - 4) {
        const code = view.getUint16(offset + at, little);
        const length = view.getUint16(offset + at + 2, little);
        swapInPlace(blockBytes, at, 2);
        swapInPlace(blockBytes, at + 2, 2);
        if (code === 0) break;
        const size = numeric[code];
        if (size !== undefined && length === size) swapInPlace(blockBytes, at + 4, size);
        at += 4 + ((length + 3) & ~3);
      }
      parts.push(blockBytes);
    }
    offset += total;
  }
  return concat(...parts);
}

/**
 * A copy of a classic pcap (either byte order) in which each record whose 0-based index is in
 * `indices` is written twice in a row, as a capture of a retransmitted frame would show it.
 */
export function duplicateClassicRecords(input: Uint8Array, indices: ReadonlySet<number>): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const parts: Uint8Array[] = [input.subarray(0, 24)];
  let offset = 24;
  let index = 0;
  while (offset + 16 <= input.length) {
    const end = offset + 16 + view.getUint32(offset + 8, little);
    const record = input.subarray(offset, end);
    parts.push(record);
    if (indices.has(index)) parts.push(record);
    offset = end;
    index++;
  }
  return concat(...parts);
}

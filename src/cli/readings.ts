// `sensorwire readings`: prints stored readings as a table for a person, CSV (RFC 4180) or JSON
// lines. It opens the database read-only, so it runs while a server writes, and streams: rows
// are written as they are read, waiting whenever stdout is full, and stopping quietly when the
// reader goes away (`| head`).
import type { Writable } from 'node:stream';
import { Command, Option } from '@commander-js/extra-typings';
import { toHex, valueToJson } from '../protocol/json.ts';
import type { Value } from '../protocol/types.ts';
import { StoreError } from '../store/errors.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { ReadingsQuery, StoredReading } from '../store/types.ts';
import { asValue } from '../store/values.ts';
import { parseInteger, parseTime } from './parse.ts';

export type Format = 'table' | 'csv' | 'jsonl';

export type ReadingsOptions = {
  db: string;
  device?: number | undefined;
  since?: number | undefined;
  limit?: number | undefined;
  format: Format;
};

// ---- Values as text ----

/** A double as text that reads back as the same double, "-0" for negative zero. */
function floatText(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** A float32 as the shortest decimal that rounds to it: 0.1, not 0.10000000149011612. */
function float32Text(x: number): string {
  if (!Number.isFinite(x) || Object.is(x, -0) || Math.fround(x) !== x) return floatText(x);
  for (let digits = 1; digits < 9; digits++) {
    const shorter = Number(x.toPrecision(digits));
    if (Math.fround(shorter) === x) return String(shorter);
  }
  return String(x);
}

/** Unix ms as ISO 8601, or the number when Date cannot show it. */
function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** A timestamp value (µs since the epoch) as ISO 8601 with microseconds. */
function isoMicros(us: bigint): string {
  let ms = us / 1000n;
  let rest = us % 1000n;
  if (rest < 0n) {
    ms -= 1n;
    rest += 1000n;
  }
  const iso = isoTime(Number(ms));
  return iso.endsWith('Z') ? `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z` : `${us} µs`;
}

/** A value as one exact CSV field: the JSON form's text, a geo position as "lat,lon". */
function exactText(v: Value): string {
  if (v.type === 'geo') return `${floatText(v.value.lat)},${floatText(v.value.lon)}`;
  if (v.type === 'string') return v.value;
  return String(valueToJson(v));
}

/** Control characters shown as escapes, so that a value cannot break a table's lines. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value for a person: floats short, strings quoted, timestamps as times, bytes as hex. */
function readableText(v: Value): string {
  switch (v.type) {
    case 'float32': return float32Text(v.value);
    case 'float64': return floatText(v.value);
    case 'string': return JSON.stringify(v.value);
    case 'bytes': return v.value.length === 0 ? '(no bytes)' : toHex(v.value);
    case 'timestamp': return isoMicros(v.value);
    case 'geo': return `${v.value.lat},${v.value.lon}`;
    default: return String(v.value);
  }
}

function valueOf(r: StoredReading): Value {
  return asValue(r.type, r.value);
}

// ---- Formats ----

/** Turns readings into output text, one call per reading. */
interface Formatter {
  start(): string;
  row(r: StoredReading): string;
  end(): string;
}

function jsonl(): Formatter {
  return {
    start: () => '',
    row: (r) => `${JSON.stringify({
      device: r.device, session: r.session, seq: r.seq, index: r.index, sensor: r.sensor, name: r.name, unit: r.unit,
      type: r.type, value: valueToJson(valueOf(r)), ts: r.ts, time: isoTime(r.ts), transport: r.transport, receivedAt: r.receivedAt,
    })}\n`,
    end: () => '',
  };
}

const CSV_COLUMNS = ['device', 'session', 'seq', 'index', 'sensor', 'name', 'unit', 'type', 'value', 'ts', 'time', 'transport', 'receivedAt'];

/** An RFC 4180 field: quoted when it holds a comma, a quote or a line break; quotes doubled. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

function csv(): Formatter {
  return {
    start: () => csvLine(CSV_COLUMNS),
    row: (r) => csvLine([
      String(r.device), String(r.session), String(r.seq), String(r.index), String(r.sensor), r.name, r.unit, r.type,
      exactText(valueOf(r)), String(r.ts), isoTime(r.ts), r.transport, String(r.receivedAt),
    ]),
    end: () => '',
  };
}

/** Columns a terminal gives a string: wide East Asian characters and emoji take two, marks none. */
function displayWidth(s: string): number {
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let width = 0;
  for (const ch of s) {
    if (/\p{Mn}|\p{Me}|\p{Cf}|[\uFE00-\uFE0F]/u.test(ch)) continue;
    const cp = ch.codePointAt(0) ?? 0;
    const wide = /\p{Extended_Pictographic}/u.test(ch) && cp > 0xff
      || (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3)
      || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60)
      || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

const TABLE_COLUMNS = ['TIME', 'DEVICE', 'SESSION', 'SEQ', 'IDX', 'SENSOR', 'NAME', 'TYPE', 'VALUE', 'UNIT'] as const;
/** Columns of numbers, aligned right. */
const RIGHT = new Set([1, 2, 3, 4, 5]);
/** Rows read before the column widths are chosen; a wider cell later widens its column from then on. */
const TABLE_SAMPLE = 200;

function table(): Formatter {
  const widths: number[] = TABLE_COLUMNS.map((c) => c.length);
  let held: string[][] | undefined = [];
  const line = (cells: readonly string[]): string => {
    const last = cells.length - 1;
    return `${cells.map((cell, i) => {
      const w = displayWidth(cell);
      const width = Math.max(widths[i] ?? 0, w);
      widths[i] = width;
      if (i === last) return cell;
      const pad = ' '.repeat(width - w);
      return RIGHT.has(i) ? pad + cell : cell + pad;
    }).join('  ').trimEnd()}\n`;
  };
  const release = (): string => {
    const rows = held ?? [];
    held = undefined;
    return [TABLE_COLUMNS, ...rows].map(line).join('');
  };
  return {
    start: () => '',
    row: (r) => {
      const cells = [
        isoTime(r.ts), String(r.device), String(r.session), String(r.seq), String(r.index), String(r.sensor),
        printable(r.name), r.type, printable(readableText(valueOf(r))), printable(r.unit),
      ];
      if (held === undefined) return line(cells);
      held.push(cells);
      cells.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(c))));
      return held.length >= TABLE_SAMPLE ? release() : '';
    },
    end: () => (held === undefined ? '' : release()),
  };
}

function formatReading(format: Format): Formatter {
  return format === 'jsonl' ? jsonl() : format === 'csv' ? csv() : table();
}

/** Writes text to a stream in chunks, respecting backpressure; notices when the reader is gone. */
class Output {
  #pending = '';
  #closed = false;
  #failure: Error | undefined;
  readonly #stream: Writable;

  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', (e: NodeJS.ErrnoException) => {
      // EPIPE: the reader has gone (e.g. `head` had enough). Anything else is a real failure.
      if (e.code === 'EPIPE') this.#closed = true;
      else this.#failure = e;
    });
  }

  /** True once nothing more can be written (the reader went away or writing failed). */
  get done(): boolean {
    return this.#closed || this.#failure !== undefined || this.#stream.destroyed;
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  async write(text: string): Promise<void> {
    this.#pending += text;
    if (this.#pending.length >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending === '' || this.done) return;
    const text = this.#pending;
    this.#pending = '';
    if (this.#stream.write(text)) return;
    await new Promise<void>((resolve) => {
      const settle = (): void => {
        this.#stream.off('drain', settle);
        this.#stream.off('error', settle);
        this.#stream.off('close', settle);
        resolve();
      };
      this.#stream.on('drain', settle);
      this.#stream.on('error', settle);
      this.#stream.on('close', settle);
    });
  }
}

/** The `readings` command, for the program in src/cli/main.ts to add. */
export function readingsCommand(): Command<[], ReadingsOptions> {
  return new Command('readings')
    .description('print stored readings, oldest first (in device, session, seq order)')
    .option('--db <file>', 'database file', './sensorwire.db')
    .option('--device <id>', 'only this device', parseInteger(1, 0xffff_ffff))
    .option('--since <time>', 'only readings taken at or after TIME: ISO date, Unix ms, or a duration ago (10m)', (t: string) => parseTime(t))
    .option('--limit <n>', 'at most N readings', parseInteger(0, Number.MAX_SAFE_INTEGER))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'jsonl'] as const).default('table' as const))
    .action(async (options, command) => {
      const query: ReadingsQuery = { device: options.device, since: options.since, limit: options.limit };
      const out = new Output(process.stdout);
      let failure: string | undefined;
      try {
        const store = openSqliteStore(options.db, { readonly: true });
        try {
          const format = formatReading(options.format);
          await out.write(format.start());
          for await (const r of store.readings(query)) {
            if (out.done) break;
            await out.write(format.row(r));
          }
          await out.write(format.end());
          await out.flush();
        } finally {
          await store.close();
        }
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        failure = e.message;
      }
      if (out.failure !== undefined) failure = `cannot write the output: ${out.failure.message}`;
      if (failure !== undefined) command.error(`error: ${failure}`, { exitCode: 1, code: 'sensorwire.readings' });
    });
}

// A Store held in memory, for tests of the server's logic. It keeps the semantics of the SQLite
// store, down to the cells values are kept in (src/store/values.ts): the same values are refused,
// and what comes back is a fresh copy, never the caller's object.
import type { SensorSpec } from '../protocol/types.ts';
import { StoreError } from './errors.ts';
import { checkDelivery, checkTransport, checkValueType } from './names.ts';
import type {
  CommitOutcome, DeviceRecord, PackedReadings, ReadingsBatch, ReadingsQuery, Store, StoredReading, Totals, TransportName,
} from './types.ts';
import { Unpacker, isPacked } from './packed.ts';
import { fromCell, toCell, type Cell } from './values.ts';
import type { ValueTypeName } from '../protocol/constants.ts';

interface Row {
  readonly sensor: number;
  readonly type: ValueTypeName;
  readonly cell: Cell;
  readonly ts: number;
}

interface StoredMessage {
  readonly device: number;
  readonly session: number;
  readonly seq: number;
  readonly transport: TransportName;
  readonly receivedAt: number;
  readonly rows: readonly Row[];
}

/** The rows of readings packed by packReadings (which checked them as toCell does). */
function unpackedRows(baseTime: number, packed: PackedReadings): Row[] {
  const rows: Row[] = [];
  const unpacker = new Unpacker(packed.bytes);
  while (!unpacker.done) {
    const r = unpacker.next(baseTime);
    rows.push({ sensor: r.sensor, type: r.value.type, cell: toCell(r.value), ts: r.ts });
  }
  return rows;
}

function integer(what: string, x: number): number {
  if (!Number.isSafeInteger(x)) throw new TypeError(`${what} must be a whole number, not ${String(x)}`);
  return x;
}

function copyCell(cell: Cell): Cell {
  return cell instanceof Uint8Array ? cell.slice() : cell;
}

function compareMessages(a: StoredMessage, b: StoredMessage): number {
  return a.device - b.device || a.session - b.session || a.seq - b.seq;
}

export class MemoryStore implements Store {
  #closed = false;
  readonly #devices = new Map<number, DeviceRecord>();
  /** Catalogue of each (device, session), by sensor id. */
  readonly #catalogues = new Map<string, Map<number, SensorSpec>>();
  readonly #messages = new Map<string, StoredMessage>();
  /** The highest seq stored per "device/session". */
  readonly #storedHighest = new Map<string, number>();

  #open(): void {
    if (this.#closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
  }

  #write<T>(what: string, fn: () => T): T {
    this.#open();
    try {
      return fn();
    } catch (e) {
      throw new StoreError('STORE_WRITE', `${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  async saveDevice(record: DeviceRecord): Promise<void> {
    this.#write(`saving device ${record.deviceId}`, () => {
      // Check and copy everything before changing anything.
      const sensors: SensorSpec[] = record.sensors.map((s) => ({
        id: integer('sensor id', s.id), type: checkValueType(s.type), delivery: checkDelivery(s.delivery),
        unit: String(s.unit), name: String(s.name),
      }));
      const catalogue = new Map(sensors.map((s) => [s.id, s]));
      if (catalogue.size !== sensors.length) throw new TypeError('the catalogue repeats a sensor id');
      const copy: DeviceRecord = {
        deviceId: integer('device id', record.deviceId),
        session: integer('session', record.session),
        model: String(record.model),
        firmware: String(record.firmware),
        intervalMs: integer('interval', record.intervalMs),
        sensors,
        transport: checkTransport(record.transport),
        highestSeq: integer('highest seq', record.highestSeq),
        configId: integer('config id', record.configId),
        firstSeen: integer('first seen', record.firstSeen),
        lastSeen: integer('last seen', record.lastSeen),
      };
      this.#devices.set(copy.deviceId, copy);
      this.#catalogues.set(`${copy.deviceId}/${copy.session}`, catalogue);
    });
  }

  async loadDevice(deviceId: number): Promise<DeviceRecord | undefined> {
    this.#open();
    const d = this.#devices.get(deviceId);
    if (d === undefined) return undefined;
    // As the SQLite store: the highest seq noted, or stored in the session, whichever is higher.
    const stored = this.#storedHighest.get(`${deviceId}/${d.session}`) ?? 0;
    return { ...d, highestSeq: Math.max(d.highestSeq, stored), sensors: d.sensors.map((s) => ({ ...s })) };
  }

  #raise(deviceId: number, session: number, seq: number): void {
    const d = this.#devices.get(deviceId);
    if (d !== undefined && d.session === session && seq > d.highestSeq) this.#devices.set(deviceId, { ...d, highestSeq: seq });
  }

  async noteSeq(deviceId: number, session: number, seq: number): Promise<void> {
    this.#write(`noting seq ${seq} of device ${deviceId}`, () => this.#raise(deviceId, session, integer('seq', seq)));
  }

  async noteConfig(deviceId: number, configId: number): Promise<void> {
    this.#write(`noting config ${configId} of device ${deviceId}`, () => {
      const d = this.#devices.get(deviceId);
      if (d !== undefined) this.#devices.set(deviceId, { ...d, configId: integer('config id', configId) });
    });
  }

  async commit(batches: readonly ReadingsBatch[]): Promise<CommitOutcome[]> {
    return this.#write(`committing ${batches.length} batches`, () => {
      // First build every new message (any failure leaves the store untouched), then add them.
      const outcomes: CommitOutcome[] = [];
      const added = new Map<string, StoredMessage>();
      for (const b of batches) {
        const key = `${integer('device id', b.deviceId)}/${integer('session', b.session)}/${integer('seq', b.seq)}`;
        if (this.#messages.has(key) || added.has(key)) {
          outcomes.push('duplicate');
          continue;
        }
        const baseTime = integer('base time', b.baseTime);
        const rows: Row[] = isPacked(b.readings) ? unpackedRows(baseTime, b.readings) : b.readings.map((r) => ({
          sensor: integer('sensor', r.sensor),
          type: checkValueType(r.type),
          cell: copyCell(toCell(r)),
          ts: integer('reading time', baseTime + integer('delta', r.delta)),
        }));
        added.set(key, {
          device: b.deviceId, session: b.session, seq: b.seq, transport: checkTransport(b.transport),
          receivedAt: integer('receive time', b.receivedAt), rows,
        });
        outcomes.push('stored');
      }
      for (const [key, m] of added) {
        this.#messages.set(key, m);
        const session = `${m.device}/${m.session}`;
        if (m.seq > (this.#storedHighest.get(session) ?? 0)) this.#storedHighest.set(session, m.seq);
      }
      return outcomes;
    });
  }

  async *readings(query: ReadingsQuery = {}): AsyncGenerator<StoredReading, void, undefined> {
    this.#open();
    const { device, since, limit } = query;
    let left = limit ?? Infinity;
    const messages = [...this.#messages.values()]
      .filter((m) => device === undefined || m.device === device)
      .sort(compareMessages);
    for (const m of messages) {
      const catalogue = this.#catalogues.get(`${m.device}/${m.session}`);
      for (const [index, row] of m.rows.entries()) {
        if (left <= 0) return;
        if (since !== undefined && row.ts < since) continue;
        const spec = catalogue?.get(row.sensor);
        left--;
        yield {
          device: m.device, session: m.session, seq: m.seq, index, sensor: row.sensor,
          name: spec?.name ?? '', unit: spec?.unit ?? '', ...fromCell(row.type, row.cell),
          ts: row.ts, receivedAt: m.receivedAt, transport: m.transport,
        };
      }
    }
  }

  async totals(): Promise<Totals[]> {
    this.#open();
    const byKey = new Map<string, { device: number; transport: TransportName; messages: number; readings: number }>();
    for (const m of this.#messages.values()) {
      const key = `${m.device}/${m.transport}`;
      const t = byKey.get(key) ?? { device: m.device, transport: m.transport, messages: 0, readings: 0 };
      t.messages++;
      t.readings += m.rows.length;
      byKey.set(key, t);
    }
    return [...byKey.values()].sort((a, b) => a.device - b.device || (a.transport < b.transport ? -1 : a.transport > b.transport ? 1 : 0));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

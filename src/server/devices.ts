// What the server holds in memory per device: the stored record, the catalogue as a map, the
// anti-replay window, the configuration the device runs and one not yet acknowledged.
import type { ConfigBody, SensorSpec } from '../protocol/index.ts';
import type { DeviceRecord, Store } from '../store/types.ts';
import type { PolicyView } from './policy.ts';
import { ReplayWindow } from './replay.ts';

export interface PendingConfig {
  readonly body: ConfigBody;
  /** Seqs of the server messages that carried it; the device's ACK names one of them. */
  readonly carriedBy: Set<number>;
}

export class DeviceState implements PolicyView {
  record: DeviceRecord;
  sensors: Map<number, SensorSpec>;
  window: ReplayWindow;
  intervalMs: number;
  disabled = new Set<number>();
  pending: PendingConfig | undefined;

  constructor(record: DeviceRecord) {
    this.record = record;
    this.sensors = new Map(record.sensors.map((s) => [s.id, s]));
    this.window = new ReplayWindow(record.highestSeq);
    this.intervalMs = record.intervalMs;
  }
}

/** Device states by id, loaded from the store on first use and written through on HELLO. */
export class DeviceRegistry {
  private readonly store: Store;
  private readonly states = new Map<number, DeviceState>();
  /** Next seq of the server's own messages, per device (device 0: replies to unknown senders). */
  private readonly seqs = new Map<number, number>();

  constructor(store: Store) {
    this.store = store;
  }

  /**
   * The device's state, or undefined if it never said HELLO. With `fresh`, the stored record
   * is read again and replaces a cached one from another session (another process may have
   * taken the device's newer HELLO).
   */
  async get(deviceId: number, fresh = false): Promise<DeviceState | undefined> {
    const cached = this.states.get(deviceId);
    if (cached && !fresh) return cached;
    const record = await this.store.loadDevice(deviceId);
    if (!record) return undefined;
    if (cached && cached.record.session === record.session) return cached;
    const state = new DeviceState(record);
    this.states.set(deviceId, state);
    return state;
  }

  /** The device's state if this process has it at hand (no store read). */
  cached(deviceId: number): DeviceState | undefined {
    return this.states.get(deviceId);
  }

  /** Stores a HELLO's record and returns the state for it (kept if the session continues). */
  async hello(record: DeviceRecord): Promise<DeviceState> {
    await this.store.saveDevice(record);
    const previous = this.states.get(record.deviceId);
    const state = new DeviceState(record);
    if (previous && previous.record.session === record.session) {
      state.window = previous.window;
      state.pending = previous.pending;
      state.disabled = previous.disabled;
    }
    this.states.set(record.deviceId, state);
    return state;
  }

  /**
   * The seq of the server's next message to this device. Devices with a session here have their
   * own count; replies to any other sender (malformed input, unknown or unauthenticated device
   * ids, all of which anyone can send) share the count of device 0, so that such input cannot
   * make the server keep one counter per device id it names.
   */
  nextSeq(deviceId: number): number {
    const key = this.states.has(deviceId) ? deviceId : 0;
    const seq = (this.seqs.get(key) ?? 0) + 1;
    const next = seq > 0xffff_ffff ? 1 : seq;
    this.seqs.set(key, next);
    return next;
  }

  /** Counters of server seqs held (one per device with a session, plus the shared one). */
  get counters(): number {
    return this.seqs.size;
  }

  get size(): number {
    return this.states.size;
  }
}

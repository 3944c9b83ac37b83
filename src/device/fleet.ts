// Many simulated devices in one process, mixing transports, for demos and load.
import type { Transport } from '../transport/types.ts';
import { SimulatedDevice, type DeviceEvent, type DeviceOptions, type DeviceSummary } from './device.ts';

/** rudp: reliable mode over a datagram transport (DeviceOptions.reliable). */
export interface ReliableOver {
  readonly kind: 'rudp';
  readonly over: Transport;
}

export type FleetTransport = Transport | ReliableOver;

export interface FleetOptions extends Omit<DeviceOptions, 'id' | 'transport' | 'reliable' | 'port' | 'onEvent' | 'seed'> {
  readonly devices: number;
  readonly firstId: number;
  /** Transports given out in turn: device i uses transports[i % length]. */
  readonly transports: readonly FleetTransport[];
  /** Port per transport kind (rudp: the server's UDP port, unless given). */
  readonly ports: Readonly<Partial<Record<FleetTransport['kind'], number>>>;
  readonly seed?: number;
  /** Device i's simulation options (e.g. a low battery for some). */
  readonly simulationFor?: (index: number) => DeviceOptions['simulation'];
  readonly onEvent?: (device: number, event: DeviceEvent) => void;
}

export interface FleetTotals {
  readonly devices: number;
  readonly generated: number;
  readonly acknowledged: number;
  readonly unacknowledged: number;
  readonly bytesSent: number;
}

export class Fleet {
  readonly members: SimulatedDevice[];

  constructor(options: FleetOptions) {
    if (options.transports.length === 0) throw new RangeError('a fleet needs at least one transport');
    this.members = [];
    const { devices, firstId, transports, ports, seed, simulationFor, onEvent: _onEvent, ...common } = options;
    for (let i = 0; i < devices; i++) {
      const chosen = transports[i % transports.length]!;
      const reliable = chosen.kind === 'rudp';
      const transport = chosen.kind === 'rudp' ? chosen.over : chosen;
      const port = ports[chosen.kind] ?? (reliable ? ports[transport.kind] : undefined);
      if (port === undefined) throw new RangeError(`no port given for ${chosen.kind}`);
      const id = firstId + i;
      const simulation = simulationFor?.(i) ?? options.simulation;
      const onEvent = options.onEvent;
      this.members.push(new SimulatedDevice({
        ...common,
        id,
        transport,
        ...(reliable ? { reliable } : {}),
        port,
        seed: ((seed ?? 1) * 100_003 + id) >>> 0,
        ...(simulation ? { simulation } : {}),
        ...(onEvent ? { onEvent: (e: DeviceEvent) => onEvent(id, e) } : {}),
      }));
    }
  }

  /** Runs every device; resolves with their summaries, in id order. */
  run(): Promise<DeviceSummary[]> {
    return Promise.all(this.members.map((d) => d.run()));
  }

  /** Readings generated and acknowledged so far, for progress lines. */
  progress(): { generated: number; acknowledged: number } {
    let generated = 0;
    let acknowledged = 0;
    for (const d of this.members) {
      generated += d.generatedSoFar;
      acknowledged += d.acknowledgedSoFar;
    }
    return { generated, acknowledged };
  }

  finish(): void {
    for (const d of this.members) d.finish();
  }
}

export function fleetTotals(summaries: readonly DeviceSummary[]): FleetTotals {
  return summaries.reduce<FleetTotals>(
    (t, s) => ({
      devices: t.devices + 1,
      generated: t.generated + s.readings.generated,
      acknowledged: t.acknowledged + s.readings.acknowledged,
      unacknowledged: t.unacknowledged + s.readings.unacknowledged,
      bytesSent: t.bytesSent + s.bytes.sent,
    }),
    { devices: 0, generated: 0, acknowledged: 0, unacknowledged: 0, bytesSent: 0 },
  );
}

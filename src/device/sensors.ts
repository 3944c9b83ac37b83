// The simulated sensors of `sensorwire device`: one of each kind the lab asks for, with values
// that move like real ones (random walks, slow drain, rare events), all from one seeded generator.
import type { DeliveryClassName, SensorSpec, Value } from '../protocol/index.ts';
import type { Random } from './random.ts';

export interface SimulatedSensor {
  readonly spec: SensorSpec;
  /** Takes a sample; `elapsedMs` is the time since the device started. */
  sample(elapsedMs: number): Value;
}

export interface SimulationOptions {
  /** Battery voltage at start, mV. Default 4100. */
  readonly batteryStartMv?: number;
  /** Battery drain per sample, mV. Default 0.2. */
  readonly batteryDrainMv?: number;
  /** Start position. Default Madrid, Puerta del Sol. */
  readonly position?: { readonly lat: number; readonly lon: number };
  /**
   * Delivery class by sensor name, over the defaults (door and status `reliable`, the telemetry
   * `latest`; PROTOCOL.md §7.7).
   */
  readonly delivery?: Readonly<Record<string, DeliveryClassName>>;
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** The nine sensors of a simulated device, ids 1…9. */
export function simulatedSensors(random: Random, options: SimulationOptions = {}): SimulatedSensor[] {
  let temperature = random.between(18, 24);
  let humidity = random.between(35, 60);
  let pressure = random.between(1005, 1020);
  let battery = options.batteryStartMv ?? 4100;
  const drain = options.batteryDrainMv ?? 0.2;
  let door = false;
  let lat = options.position?.lat ?? 40.4168;
  let lon = options.position?.lon ?? -3.7038;
  let status = 'ok';
  const event = (text: string): void => {
    status = text;
  };

  const sensors: SimulatedSensor[] = [
    {
      spec: { id: 1, type: 'float32', delivery: 'latest', unit: '°C', name: 'temperature' },
      sample: () => {
        temperature = clamp(temperature + random.gaussian(0.05), -20, 50);
        return { type: 'float32', value: Math.fround(temperature) };
      },
    },
    {
      spec: { id: 2, type: 'float32', delivery: 'latest', unit: '%', name: 'humidity' },
      sample: () => {
        humidity = clamp(humidity + random.gaussian(0.2), 0, 100);
        return { type: 'float32', value: Math.fround(humidity) };
      },
    },
    {
      spec: { id: 3, type: 'float64', delivery: 'latest', unit: 'hPa', name: 'pressure' },
      sample: () => {
        pressure = clamp(pressure + random.gaussian(0.02), 950, 1060);
        return { type: 'float64', value: pressure };
      },
    },
    {
      spec: { id: 4, type: 'uint16', delivery: 'latest', unit: 'mV', name: 'battery' },
      sample: () => {
        const before = battery;
        battery = clamp(battery - drain * random.between(0.5, 1.5), 2500, 4300);
        if (before >= 3400 && battery < 3400) event('battery low');
        return { type: 'uint16', value: Math.round(battery + random.gaussian(2)) };
      },
    },
    {
      spec: { id: 5, type: 'int8', delivery: 'latest', unit: 'dBm', name: 'rssi' },
      sample: () => ({ type: 'int8', value: Math.round(clamp(-67 + random.gaussian(4), -120, -30)) }),
    },
    {
      spec: { id: 6, type: 'bool', delivery: 'reliable', unit: '', name: 'door' },
      sample: () => {
        if (random.chance(0.02)) {
          door = !door;
          event(door ? 'door open' : 'door closed');
        }
        return { type: 'bool', value: door };
      },
    },
    {
      spec: { id: 7, type: 'geo', delivery: 'latest', unit: 'deg', name: 'position' },
      sample: () => {
        lat = clamp(lat + random.gaussian(2e-6), -90, 90);
        lon = clamp(lon + random.gaussian(2e-6), -180, 180);
        // Whole units of 1e-7 degree, as the wire carries them.
        return { type: 'geo', value: { lat: Math.round(lat * 1e7) / 1e7, lon: Math.round(lon * 1e7) / 1e7 } };
      },
    },
    {
      spec: { id: 8, type: 'uint32', delivery: 'latest', unit: 's', name: 'uptime' },
      sample: (elapsedMs) => ({ type: 'uint32', value: Math.floor(elapsedMs / 1000) }),
    },
    {
      spec: { id: 9, type: 'string', delivery: 'reliable', unit: '', name: 'status' },
      sample: () => ({ type: 'string', value: status }),
    },
  ];
  const classes = options.delivery ?? {};
  return sensors.map((s) => {
    const delivery = classes[s.spec.name];
    return delivery === undefined ? s : { ...s, spec: { ...s.spec, delivery } };
  });
}

// When the server sends CONFIG. The rule the lab asks for: a device whose battery reading falls
// below a threshold is told to sample less often (and, optionally, to switch sensors off).
import type { ConfigBody, Reading, SensorSpec } from '../protocol/index.ts';

/** What a policy sees of a device. */
export interface PolicyView {
  readonly intervalMs: number;
  readonly disabled: ReadonlySet<number>;
  readonly sensors: ReadonlyMap<number, SensorSpec>;
}

export type ConfigChange = Omit<ConfigBody, 'configId'>;

export interface ConfigPolicy {
  /**
   * Whether evaluate() looks at readings of this sensor. The server keeps only those readings
   * of a message until it is stored, and gives evaluate() only those (none: it is not called).
   */
  watches(sensor: SensorSpec): boolean;
  /** A change to send after these readings (stored ones, of watched sensors), or undefined. */
  evaluate(device: PolicyView, readings: readonly Reading[]): ConfigChange | undefined;
}

export interface BatteryPolicyOptions {
  /** Below this many millivolts the rule fires. Default 3300. */
  readonly thresholdMv: number;
  /** The interval the device is told to use. Default 10 s. */
  readonly intervalMs: number;
  /** Names of sensors to switch off as well. Default none. */
  readonly disable: readonly string[];
}

export const DEFAULT_BATTERY_POLICY: BatteryPolicyOptions = { thresholdMv: 3300, intervalMs: 10_000, disable: [] };

/** Fires on a reading of a sensor with unit mV (the battery) below the threshold. */
export function batteryPolicy(options: Partial<BatteryPolicyOptions> = {}): ConfigPolicy {
  const o = { ...DEFAULT_BATTERY_POLICY, ...options };
  return {
    watches: (sensor) => sensor.unit === 'mV',
    evaluate(device, readings) {
      const low = readings.some((r) => {
        const spec = device.sensors.get(r.sensor);
        return spec?.unit === 'mV' && typeof r.value === 'number' && r.value < o.thresholdMv;
      });
      if (!low) return undefined;
      const disable = [...device.sensors.values()]
        .filter((s) => o.disable.includes(s.name) && !device.disabled.has(s.id))
        .map((s) => s.id);
      if (device.intervalMs >= o.intervalMs && disable.length === 0) return undefined;
      return { intervalMs: Math.max(device.intervalMs, o.intervalMs), enable: [], disable };
    },
  };
}

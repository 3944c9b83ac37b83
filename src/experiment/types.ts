// What `sensorwire experiment` measures: one RunResult per (transport, batch, loss), and the
// ExperimentData around them. The report is a pure function of ExperimentData (report.ts), which
// is also written to DIR/data.json so that the report can be made again without measuring.
import type { Summary, Transport } from '../analysis/overhead-types.ts';

export type ExperimentTransport = Transport;
export const EXPERIMENT_TRANSPORTS: readonly ExperimentTransport[] = ['tcp', 'udp', 'rudp'];

/** One run: what the device is asked to do, and the loss on the link. */
export interface RunSpec {
  readonly transport: ExperimentTransport;
  /** Readings per READINGS message. */
  readonly batch: number;
  /** Percent of packets dropped in each direction, 0…100. */
  readonly loss: number;
  /** Readings the device takes and sends. */
  readonly readings: number;
  /** Time between the device's sampling rounds (each round reads its nine sensors), ms. */
  readonly intervalMs: number;
  readonly seed: number;
  readonly deviceId: number;
  /**
   * rudp delivery classes (PROTOCOL.md §7.7): `reliable` declares every sensor reliable, so rudp
   * owes every reading as TCP does; `catalogue` keeps the simulator's own (door and status
   * reliable, telemetry latest). Absent in data from before the option: `catalogue`.
   */
  readonly delivery?: 'reliable' | 'catalogue';
}

/** TCP header sizes as negotiated on the link (from the capture); null for UDP. */
export interface TcpHeaders {
  /** Header bytes of the SYN and SYN-ACK, options included (e.g. 40). */
  readonly syn: number;
  readonly synAck: number;
  /** Header bytes of the other segments (e.g. 32: 20 + timestamps 10 + 2 NOPs). */
  readonly segment: number;
  /** Names of the options seen in the SYN, e.g. ['MSS', 'SACK permitted', 'timestamps', 'window scale']. */
  readonly options: readonly string[];
}

/** What the device printed at its end (`sensorwire device --json`), the fields the report uses. */
export interface DeviceFigures {
  readonly sent: number;
  readonly acknowledged: number;
  readonly unacknowledged: number;
  readonly messagesSent: number;
  readonly retransmissions: number;
  readonly durationMs: number;
}

export interface RunResult {
  readonly spec: RunSpec;
  /** Wall time of the run, from server start to capture analyzed, ms. */
  readonly wallMs: number;
  readonly device: DeviceFigures;
  /** Readings the server committed to its database for the device: what was delivered. */
  readonly stored: number;
  /** Packets the loss rule dropped, at the server's side (a) and the device's (b). */
  readonly dropped: { readonly a: number; readonly b: number };
  /** Frames tcpdump reported captured, and dropped by the kernel (should be 0). */
  readonly capture: { readonly captured: number; readonly droppedByKernel: number };
  /** The analyzer's figures for every sensorwire flow in the run's capture. */
  readonly measured: Summary;
  /** Transport the analyzer recognised (rudp by its RELIABLE flag), or null when nothing was seen. */
  readonly seenAs: ExperimentTransport | null;
  readonly flows: number;
  readonly tcp: TcpHeaders | null;
}

export interface MachineInfo {
  readonly hostname: string;
  readonly os: string;
  readonly kernel: string;
  readonly cpus: string;
  readonly node: string;
}

export interface ExperimentData {
  /** The command line as given. */
  readonly command: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly mtu: number;
  readonly runs: readonly RunResult[];
}

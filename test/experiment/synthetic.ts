// Made-up runs for the report and model tests: a run whose capture is exactly what the model
// predicts, and variations of it (TCP with delayed ACKs and coalescing, lossy runs).
import { emptyCounts, summarize } from '../../src/analysis/overhead-counts.ts';
import type { Counts, FramesBytes } from '../../src/analysis/overhead-types.ts';
import { DEFAULT_TCP_HEADERS, modelRun, type ModelPart } from '../../src/experiment/model.ts';
import type { ExperimentData, ExperimentTransport, RunResult, RunSpec } from '../../src/experiment/types.ts';

export const VALUE_BYTES = 4.5;

export function spec(transport: ExperimentTransport, batch: number, loss = 0, readings = 90): RunSpec {
  return { transport, batch, loss, readings, intervalMs: 20, seed: 1, deviceId: 7 };
}

const fb = (p: ModelPart): FramesBytes => ({ frames: p.frames, bytes: p.bytes });

/** The counts a capture would give if the run went exactly as modelled. */
export function modelledCounts(s: RunSpec): Counts {
  const model = modelRun({ ...s, valueBytesPerReading: VALUE_BYTES, tcp: s.transport === 'tcp' ? DEFAULT_TCP_HEADERS : null });
  const c = emptyCounts();
  c.frames = model.total.frames;
  c.bytes = model.total.bytes;
  c.layers = { ...model.total.layers };
  c.messages.HELLO = 1;
  c.messages.READINGS = model.messages;
  c.messages.ACK = model.messages + 2;
  c.messages.BYE = 1;
  c.readingsMessages = model.messages;
  c.readings = s.readings;
  c.cost = { handshake: fb(model.handshake), teardown: fb(model.teardown), session: fb(model.session), steady: fb(model.steady) };
  if (s.transport === 'tcp') {
    c.segments.syn = { frames: 1, bytes: 74 };
    c.segments.synAck = { frames: 1, bytes: 74 };
    c.segments.fin = { frames: 2, bytes: 132 };
    c.segments.pureAck = { frames: 2, bytes: 132 };
    c.segments.data = fb({ ...model.session, frames: model.session.frames + model.steady.frames, bytes: model.session.bytes + model.steady.bytes });
  }
  return c;
}

export function run(s: RunSpec, counts: Counts = modelledCounts(s), stored = s.readings): RunResult {
  return {
    spec: s,
    wallMs: 5000,
    device: { sent: s.readings, acknowledged: stored, unacknowledged: s.readings - stored, messagesSent: Math.ceil(s.readings / s.batch), retransmissions: 0, durationMs: 400 },
    stored,
    dropped: { a: 0, b: 0 },
    capture: { captured: counts.frames, droppedByKernel: 0 },
    measured: summarize(counts),
    seenAs: s.transport,
    flows: 1,
    tcp: s.transport === 'tcp' ? DEFAULT_TCP_HEADERS : null,
  };
}

export function data(runs: readonly RunResult[]): ExperimentData {
  return {
    command: 'sensorwire experiment --readings 90',
    startedAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T03:05:05.000Z',
    machine: { hostname: 'test', os: 'linux', kernel: '6.1', cpus: '2 × test cpu', node: 'v20.0.0' },
    mtu: 1500,
    runs,
  };
}

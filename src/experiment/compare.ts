// Measurement against model, run by run: the difference in frames and wire bytes split into its
// causes, each counted from the capture, so that the causes add up to the whole difference. What
// no cause accounts for is the last item, the sizes of fields the model had to assume (varints
// of seq numbers and hold times, TCP options such as SACK blocks, reading deltas).
import type { FramesBytes, Summary } from '../analysis/overhead-types.ts';
import { ETHERNET_HEADER, IPV4_HEADER, modelRun, UDP_HEADER, type ModelResult } from './model.ts';
import type { RunResult } from './types.ts';

export interface Cause {
  /** Short name, e.g. "pure ACKs". */
  readonly cause: string;
  /** Measured minus model. */
  readonly frames: number;
  readonly bytes: number;
  /** What happened, with the counts. */
  readonly note: string;
}

export interface Comparison {
  readonly run: RunResult;
  readonly model: ModelResult;
  /** Measured minus model, in total. */
  readonly frames: number;
  readonly bytes: number;
  /** Add up to `frames` and `bytes`. */
  readonly causes: readonly Cause[];
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const add = (a: FramesBytes, b: FramesBytes): FramesBytes => ({ frames: a.frames + b.frames, bytes: a.bytes + b.bytes });

/** Mean value bytes per reading for the model: from the run itself, or the same transport and batch without loss. */
export function valueBytesPerReading(run: RunResult, runs: readonly RunResult[]): number {
  const own = (r: RunResult): number | null => (r.measured.readings > 0 && r.measured.tcpRetransmissions.frames === 0 && r.measured.resent.frames === 0 ? r.measured.layers.values / r.measured.readings : null);
  const lossless = runs.find((r) => r.spec.transport === run.spec.transport && r.spec.batch === run.spec.batch && r.spec.loss === 0);
  return (lossless ? own(lossless) : null) ?? own(run) ?? (run.measured.readings > 0 ? run.measured.layers.values / run.measured.readings : 0);
}

export function modelFor(run: RunResult, runs: readonly RunResult[]): ModelResult {
  const s = run.spec;
  return modelRun({
    transport: s.transport,
    batch: s.batch,
    readings: s.readings,
    deviceId: s.deviceId,
    seed: s.seed,
    intervalMs: s.intervalMs,
    valueBytesPerReading: valueBytesPerReading(run, runs),
    tcp: run.tcp,
  });
}

function tcpCauses(m: Summary, model: ModelResult, segmentHeader: number): Cause[] {
  const causes: Cause[] = [];
  const frameOverhead = ETHERNET_HEADER + IPV4_HEADER + segmentHeader;
  const hs = { frames: m.cost.handshake.frames - model.handshake.frames, bytes: m.cost.handshake.bytes - model.handshake.bytes };
  causes.push({
    cause: 'handshake',
    ...hs,
    note:
      hs.frames === 0
        ? `SYN, SYN-ACK and ACK as modelled (${m.cost.handshake.bytes} bytes)`
        : `${plural(m.cost.handshake.frames, 'frame')} instead of 3: ${plural(m.segments.syn.frames, 'SYN')} and ${plural(m.segments.synAck.frames, 'SYN-ACK')} (a lost one is sent again)`,
  });
  const td = { frames: m.cost.teardown.frames - model.teardown.frames, bytes: m.cost.teardown.bytes - model.teardown.bytes };
  causes.push({
    cause: 'teardown',
    ...td,
    note:
      td.frames === 0
        ? `FIN, FIN and ACK as modelled (${m.cost.teardown.bytes} bytes)`
        : `${plural(m.cost.teardown.frames, 'frame')} instead of 3 (${plural(m.segments.fin.frames, 'FIN')}, ${plural(m.segments.rst.frames, 'RST')}; a FIN and its ACK can be one segment, a lost FIN is sent again)`,
  });
  const flowing = add(m.cost.session, m.cost.steady);
  const modelFlowing = add(model.session, model.steady);
  const retrans = m.tcpRetransmissions;
  const dataSegments = m.segments.data.frames;
  const pureAcks = Math.max(0, flowing.frames - dataSegments);
  const pureAckBytes = m.segments.pureAck.frames > 0 ? Math.round((m.segments.pureAck.bytes / m.segments.pureAck.frames) * pureAcks) : pureAcks * frameOverhead;
  causes.push({
    cause: 'pure ACKs',
    frames: pureAcks,
    bytes: pureAckBytes,
    note: `${plural(pureAcks, 'segment')} that only acknowledge (delayed ACKs when no data was going back within the delayed-ACK time); the model has every acknowledgement ride on data`,
  });
  if (retrans.frames > 0) {
    causes.push({ cause: 'TCP retransmissions', frames: retrans.frames, bytes: retrans.bytes, note: `${plural(retrans.frames, 'segment')} sent again (${retrans.payloadBytes} payload bytes): lost on the link, or their ACK was` });
  }
  const messages = Object.values(m.messages).reduce((a, b) => a + b, 0);
  const originals = dataSegments - retrans.frames;
  const coalesced = originals - modelFlowing.frames;
  causes.push({
    cause: 'coalescing',
    frames: coalesced,
    bytes: coalesced * frameOverhead,
    note: `${messages} messages travelled in ${plural(originals, 'data segment')} (${(messages / Math.max(1, originals)).toFixed(2)} a segment): what a sender writes while earlier bytes are unacknowledged waits (Nagle) and leaves together, so the ${frameOverhead} bytes of Ethernet, IP and TCP headers are paid once for several messages`,
  });
  return causes;
}

function udpCauses(m: Summary, model: ModelResult, run: RunResult): Cause[] {
  const causes: Cause[] = [];
  const ackFrame = ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER + model.sizes.ack;
  const modelAcks = model.messages + 2;
  const acks = m.messages.ACK - modelAcks;
  if (acks !== 0) {
    const why =
      run.spec.transport === 'rudp'
        ? 'rudp acknowledges cumulatively, one ACK for the READINGS committed together (and delays it a little to gather more), so it sends fewer ACKs than messages; under loss, ACKs of what never arrived are never sent'
        : 'the server answers only what reached it: ACKs of READINGS lost on the way are never sent (and an ACK lost on the way back is still seen by a capture at the device side only if it crossed the link)';
    causes.push({ cause: 'ACKs', frames: acks, bytes: acks * ackFrame, note: `${m.messages.ACK} ACK messages instead of ${modelAcks}: ${why}` });
  }
  const extraReadings = m.readingsMessages - model.messages;
  if (extraReadings !== 0) {
    const size = ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER + model.sizes.readings;
    causes.push({ cause: 'READINGS', frames: extraReadings, bytes: extraReadings * size, note: `${m.readingsMessages} READINGS first copies instead of ${model.messages}` });
  }
  if (m.resent.frames > 0) {
    causes.push({ cause: 'READINGS resent', frames: m.resent.frames, bytes: m.resent.bytes, note: `${plural(m.resent.frames, 'datagram')} carrying READINGS sent again (${m.resent.readings} readings): no ACK came in time` });
  }
  const hellos = m.messages.HELLO - 1;
  const byes = m.messages.BYE - 1;
  if (hellos !== 0 || byes !== 0) {
    const frames = hellos + byes;
    const bytes = hellos * (ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER + model.sizes.hello) + byes * (ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER + model.sizes.bye);
    causes.push({ cause: 'HELLO and BYE again', frames, bytes, note: `${plural(m.messages.HELLO, 'HELLO')} and ${plural(m.messages.BYE, 'BYE')} instead of one each: sent again when their ACK did not come back` });
  }
  const others = m.messages.CONFIG + m.messages.ERROR + m.messages.PING + m.messages.PONG;
  if (others > 0) {
    const overhead = ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER;
    causes.push({ cause: 'other messages', frames: others, bytes: others * overhead, note: `CONFIG ${m.messages.CONFIG}, ERROR ${m.messages.ERROR}, PING ${m.messages.PING}, PONG ${m.messages.PONG} (headers only here; their bodies fall in the last line)` });
  }
  return causes;
}

/** The run against its model, the difference split into causes that add up to it. */
export function compareRun(run: RunResult, runs: readonly RunResult[]): Comparison {
  const model = modelFor(run, runs);
  const m = run.measured;
  const frames = m.frames - model.total.frames;
  const bytes = m.bytes - model.total.bytes;
  const causes = run.spec.transport === 'tcp' ? tcpCauses(m, model, run.tcp?.segment ?? 32) : udpCauses(m, model, run);
  const restFrames = frames - causes.reduce((s, c) => s + c.frames, 0);
  const restBytes = bytes - causes.reduce((s, c) => s + c.bytes, 0);
  causes.push({
    cause: 'field sizes',
    frames: restFrames,
    bytes: restBytes,
    note:
      'what the model assumed about sizes: varints of seq numbers and of the ACK hold time (µs), reading deltas, TCP options beyond the usual (SACK blocks under loss), ' +
      (run.spec.transport === 'tcp' ? 'pure-ACK sizes, and sensorwire bytes of retransmitted segments counted as the layers they repeat' : 'and the size of the ACKs and datagrams estimated above'),
  });
  return { run, model, frames, bytes, causes };
}

// How `device` and `fleet` print what happens: one readable line per reply, and summaries.
import type { DeviceEvent, DeviceSummary } from '../device/device.ts';

const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));

/** One line for a device event. */
export function describeEvent(e: DeviceEvent): string {
  switch (e.kind) {
    case 'connected':
      return `connected to ${e.remote}`;
    case 'disconnected':
      return `connection lost: ${e.reason}`;
    case 'reconnecting':
      return `reconnecting in ${e.delayMs} ms (attempt ${e.attempt}: ${e.reason})`;
    case 'ack':
      return e.what === 'READINGS'
        ? `ack #${e.ackSeq} ${e.status}: ${e.readings} reading${e.readings === 1 ? '' : 's'} stored${e.rttMs !== undefined ? `, rtt ${ms(e.rttMs)} ms` : ''}`
        : `ack #${e.ackSeq} ${e.status} (${e.what})`;
    case 'config': {
      const parts = [
        e.intervalMs !== e.previousIntervalMs ? `interval ${e.previousIntervalMs} ms → ${e.intervalMs} ms` : '',
        e.enabled.length > 0 ? `enabled ${e.enabled.join(', ')}` : '',
        e.disabled.length > 0 ? `disabled ${e.disabled.join(', ')}` : '',
      ].filter(Boolean);
      return `config #${e.configId} applied: ${parts.join('; ') || 'no change'}`;
    }
    case 'error':
      return `error ${e.name} (${e.code})${e.refSeq ? ` about #${e.refSeq}` : ''}: ${e.text}`;
    case 'pong':
      return `pong for #${e.pingSeq}`;
    case 'retransmit': {
      const changed = e.superseded > 0 ? `; ${e.superseded} stale latest reading${e.superseded === 1 ? '' : 's'} out, ${e.replaced} replaced by newer` : '';
      return `resent #${e.seq} (${e.reason}): ${e.readings} reading${e.readings === 1 ? '' : 's'}${changed}`;
    }
    case 'resync':
      return `resync (${e.reason === 'RESYNC' ? 'the server lost the session' : 'new server epoch'}): epoch ${hex(e.epoch)}, HELLO with resume seq ${e.resumeSeq}, ${e.held} held to send again`;
    case 'gave-up':
      return `error GAVE_UP (${e.code}) about #${e.seq}: ${e.reason === 'silence' ? 'nothing from the server for 30 s' : 'retransmitted too often'}; ${e.held} held, saying HELLO again`;
  }
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** The end-of-run summary for a person. */
export function describeSummary(s: DeviceSummary): string {
  const r = s.readings;
  const rtt = s.rtt ? `${ms(s.rtt.minMs)} / ${ms(s.rtt.avgMs)} / ${ms(s.rtt.maxMs)} ms (${s.rtt.samples} samples)` : 'no samples';
  return [
    `device ${s.device} over ${s.transport}, session ${s.session}, ${(s.durationMs / 1000).toFixed(1)} s`,
    `  readings:  ${r.generated} generated, ${r.sent} sent, ${r.acknowledged} acknowledged, ${r.unacknowledged} unacknowledged` +
      (r.rejected ? `, ${r.rejected} rejected` : '') + (r.dropped ? `, ${r.dropped} dropped (queue full)` : '') +
      (r.superseded ? `, ${r.superseded} superseded by newer samples` : ''),
    `  messages:  ${s.messages.sent} sent, ${s.messages.acknowledged} acknowledged (${s.messages.duplicates} as duplicates), ` +
      `${s.messages.retransmissions} resent, ${s.messages.unacknowledged} unacknowledged`,
    `  bytes:     ${s.bytes.sent} sent, ${s.bytes.received} received (application bytes)`,
    `  rtt:       min / avg / max ${rtt}`,
    `  clock:     server − device ≈ ${s.clockOffsetMs === null ? 'unknown' : `${ms(s.clockOffsetMs)} ms`}`,
    `  session:   ${s.reconnects} reconnects, ${s.configsApplied} configs applied, interval now ${s.intervalMs} ms`,
    ...(s.rudp ? [describeRudp(s.rudp)] : []),
  ].join('\n');
}

function describeRudp(r: NonNullable<DeviceSummary['rudp']>): string {
  const t = r.retransmissions;
  const srtt = r.srttMs === null ? 'no samples' : `srtt ${ms(r.srttMs)} ms, rttvar ${ms(r.rttvarMs ?? 0)} ms`;
  return [
    `  rudp:      ${srtt}, rto ${Math.round(r.rtoMs)} ms, epoch ${r.epoch === null ? 'none' : hex(r.epoch)}`,
    `             resent: ${t.timeout} on timeout, ${t.fast} fast, ${t.probe} probes, ${t.resync} after resync`,
    `             ${r.resyncs} resyncs, ${r.gaveUp} gave up, ${r.keepalives} keepalives, ` +
      `${r.superseded} stale latest readings left out (${r.replaced} replaced by newer)`,
  ].join('\n');
}

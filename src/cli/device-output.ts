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
  }
}

/** The end-of-run summary for a person. */
export function describeSummary(s: DeviceSummary): string {
  const r = s.readings;
  const rtt = s.rtt ? `${ms(s.rtt.minMs)} / ${ms(s.rtt.avgMs)} / ${ms(s.rtt.maxMs)} ms (${s.rtt.samples} samples)` : 'no samples';
  return [
    `device ${s.device} over ${s.transport}, session ${s.session}, ${(s.durationMs / 1000).toFixed(1)} s`,
    `  readings:  ${r.generated} generated, ${r.sent} sent, ${r.acknowledged} acknowledged, ${r.unacknowledged} unacknowledged` +
      (r.rejected ? `, ${r.rejected} rejected` : '') + (r.dropped ? `, ${r.dropped} dropped (queue full)` : ''),
    `  messages:  ${s.messages.sent} sent, ${s.messages.acknowledged} acknowledged (${s.messages.duplicates} as duplicates), ` +
      `${s.messages.retransmissions} resent, ${s.messages.unacknowledged} unacknowledged`,
    `  bytes:     ${s.bytes.sent} sent, ${s.bytes.received} received (application bytes)`,
    `  rtt:       min / avg / max ${rtt}`,
    `  clock:     server − device ≈ ${s.clockOffsetMs === null ? 'unknown' : `${ms(s.clockOffsetMs)} ms`}`,
    `  session:   ${s.reconnects} reconnects, ${s.configsApplied} configs applied, interval now ${s.intervalMs} ms`,
  ].join('\n');
}

// `sensorwire analyze FILE`: what sensorwire traffic in a capture costs on the wire, per flow and
// per transport, as tables for a person or one JSON document (shape: src/analysis/overhead-types.ts).
import { Command, InvalidArgumentError } from '@commander-js/extra-typings';
import { SENSORWIRE_PORT, analyzeFile } from '../analysis/overhead.ts';
import { CaptureError, CaptureIoError } from '../analysis/errors.ts';
import type { Counts, FlowReport, LayerName, OverheadReport, Summary } from '../analysis/overhead-types.ts';
import { LAYER_NAMES } from '../analysis/overhead-types.ts';
import { MessageType, type MessageTypeName } from '../protocol/constants.ts';
import { parseInteger } from './parse.ts';

const parsePortNumber = parseInteger(1, 65535);

/** `--port 7878`, `--port 7878,9000`, repeatable: every port, in order, once. */
export function collectPorts(text: string, previous: number[]): number[] {
  const ports = [...previous];
  for (const part of text.split(',')) {
    if (part.trim() === '') throw new InvalidArgumentError(`"${text}" is not a port list: use e.g. 7878 or 7878,9000`);
    const port = parsePortNumber(part.trim());
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

const LAYER_LABELS: Record<LayerName, string> = {
  link: 'link header',
  ip: 'IP header',
  transport: 'TCP/UDP header',
  framing: 'sensorwire length prefix (TCP)',
  header: 'sensorwire header',
  body: 'sensorwire body (not values)',
  values: 'reading values',
  tag: 'auth tags',
  malformed: 'malformed messages',
  undecoded: 'undecoded payload',
  trailer: 'trailer / padding',
};

/** Columns of figures are right-aligned, the others (and the first) left-aligned; row 0 is the header. */
function grid(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const figures = widths.map((_, i) => i > 0 && rows.slice(1).every((row) => /^[-\d.,%/ ]*$/.test(row[i] ?? '')));
  return rows
    .map((row) => row.map((cell, i) => (figures[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

function num(n: number | null, digits = 1): string {
  return n === null ? '-' : Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

function percent(fraction: number | null): string {
  return fraction === null ? '-' : `${(fraction * 100).toFixed(2)}%`;
}

function fb(x: { frames: number; bytes: number }): string {
  return `${x.frames} / ${x.bytes}`;
}

function messageList(c: Counts): string {
  const parts = (Object.keys(MessageType) as MessageTypeName[]).filter((n) => c.messages[n] > 0).map((n) => `${n} ${c.messages[n]}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

function endpoint(e: { address: string; port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function flowTable(flows: readonly FlowReport[]): string {
  const header = ['id', 'transport', 'device', 'server', 'frames', 'bytes', 'messages', 'malformed', 'readings', 'bytes/reading', 'efficiency'];
  const rows = flows.map((f) => [
    String(f.id),
    f.transport,
    endpoint(f.device),
    endpoint(f.server),
    String(f.frames),
    String(f.bytes),
    String(Object.values(f.messages).reduce((a, b) => a + b, 0)),
    String(f.malformed.messages),
    String(f.readings),
    num(f.derived.bytesPerReading),
    percent(f.derived.efficiency),
  ]);
  return grid([header, ...rows]);
}

function summaryTable(columns: readonly { name: string; s: Summary; flows: number }[]): string {
  const row = (label: string, cell: (s: Summary, flows: number) => string): string[] => [label, ...columns.map((c) => cell(c.s, c.flows))];
  return grid([
    ['', ...columns.map((c) => c.name)],
    row('flows', (_, n) => String(n)),
    row('frames', (s) => String(s.frames)),
    row('bytes on the wire', (s) => String(s.bytes)),
    row('readings', (s) => String(s.readings)),
    row('READINGS messages', (s) => String(s.readingsMessages)),
    row('wire bytes per reading', (s) => num(s.derived.bytesPerReading)),
    row('  steady state (no one-off cost)', (s) => num(s.derived.steadyBytesPerReading)),
    row('frames per reading', (s) => num(s.derived.framesPerReading, 2)),
    row('efficiency (values / wire)', (s) => percent(s.derived.efficiency)),
    row('one-off frames / bytes', (s) => fb(s.derived.oneOff)),
    row('  TCP handshake', (s) => fb(s.cost.handshake)),
    row('  TCP teardown', (s) => fb(s.cost.teardown)),
    row('  HELLO, BYE and their ACKs', (s) => fb(s.cost.session)),
    row('steady frames / bytes', (s) => fb(s.cost.steady)),
    row('TCP SYN, SYN-ACK, FIN, RST', (s) => fb(sumFb([s.segments.syn, s.segments.synAck, s.segments.fin, s.segments.rst]))),
    row('TCP pure ACKs', (s) => fb(s.segments.pureAck)),
    row('TCP data segments', (s) => fb(s.segments.data)),
    row('TCP retransmissions', (s) => fb(s.tcpRetransmissions)),
    row('READINGS resent (rudp retransmissions)', (s) => fb(s.resent)),
    row('malformed messages', (s) => String(s.malformed.messages)),
  ]);
}

function sumFb(parts: readonly { frames: number; bytes: number }[]): { frames: number; bytes: number } {
  return parts.reduce((a, b) => ({ frames: a.frames + b.frames, bytes: a.bytes + b.bytes }), { frames: 0, bytes: 0 });
}

function layerTable(columns: readonly { name: string; s: Summary }[]): string {
  const cell = (s: Summary, layer: LayerName): string =>
    `${s.layers[layer]} ${(s.derived.sharePercent?.[layer] ?? 0).toFixed(1).padStart(5)}%`;
  return grid([
    ['', ...columns.map((c) => c.name)],
    ...LAYER_NAMES.map((layer) => [LAYER_LABELS[layer], ...columns.map((c) => cell(c.s, layer))]),
    ['total', ...columns.map((c) => `${c.s.bytes} ${c.s.bytes > 0 ? '100.0' : '  0.0'}%`)],
  ]);
}

/** The report as text for a terminal. */
export function formatReport(report: OverheadReport): string {
  const out: string[] = [];
  out.push(
    `${report.file} (${report.format}): ${report.capture.frames} frames, ${report.capture.bytes} bytes; ` +
      `sensorwire on port ${report.ports.join(', ')}: ${report.selected.flows} flows, ${report.selected.frames} frames, ${report.selected.bytes} bytes`,
  );
  if (report.truncated !== null) {
    out.push(`warning: the file ends in the middle of a record; the ${report.capture.frames} frames before it were analyzed (${report.truncated})`);
  }
  if (report.flows.length === 0) {
    out.push('', `no TCP or UDP flow on port ${report.ports.join(', ')} (choose others with --port)`);
    return `${out.join('\n')}\n`;
  }
  out.push('', 'Flows', flowTable(report.flows));
  const columns = [
    ...report.transports.map((t) => ({ name: t.transport, s: t as Summary, flows: t.flows })),
    ...(report.transports.length > 1 ? [{ name: 'all', s: report.total, flows: report.selected.flows }] : []),
  ];
  out.push('', 'By transport', summaryTable(columns));
  out.push('', 'Messages');
  for (const c of columns) out.push(`  ${c.name}: ${messageList(c.s)}`);
  out.push('', 'Bytes by layer (share of the wire bytes)', layerTable(columns));
  return `${out.join('\n')}\n`;
}

export function analyzeCommand(): Command<[string], { port: number[]; json?: true | undefined }> {
  return new Command('analyze')
    .description('measure what the sensorwire traffic in a capture (pcap or pcapng) costs on the wire, per flow and per transport')
    .argument('<file>', 'capture file (tcpdump -w, Wireshark, tshark)')
    .option('--port <ports>', `sensorwire port(s), repeatable or comma-separated (default ${SENSORWIRE_PORT})`, collectPorts, [] as number[])
    .option('--json', 'print one JSON document instead of tables')
    .action((file, o) => {
      const ports = o.port.length > 0 ? o.port : [SENSORWIRE_PORT];
      let report: OverheadReport;
      try {
        report = analyzeFile(file, { ports });
      } catch (error) {
        if (error instanceof CaptureIoError) {
          const cause = error.cause instanceof Error ? error.cause.message : error.message;
          throw new Error(`analyze: cannot read ${file}: ${cause}`);
        }
        if (error instanceof CaptureError) throw new Error(`analyze: ${file} is not a pcap or pcapng capture (${error.message})`);
        throw error;
      }
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    });
}

// DIR/report.md from the measured data: a pure function (no I/O, no clock), so that it can be
// tested on made-up runs and made again from DIR/data.json. The charts come back as ECharts
// options beside the text; write.ts renders them.
import type { LayerName } from '../analysis/overhead-types.ts';
import { batchChart, deliveredChart, layersChart, type ChartSpec, wireBytesChart } from './charts.ts';
import { compareRun, type Comparison } from './compare.ts';
import { ETHERNET_HEADER, IPV4_HEADER, MODEL_HOLD_US, modelLoss, reliableShare, TCP_HEADER, UDP_HEADER } from './model.ts';
import type { ExperimentData, RunResult } from './types.ts';

export interface GeneratedReport {
  readonly markdown: string;
  readonly charts: readonly ChartSpec[];
  readonly comparisons: readonly Comparison[];
}

const LAYER_ROWS: readonly { layer: LayerName; label: string }[] = [
  { layer: 'link', label: 'Ethernet header' },
  { layer: 'ip', label: 'IPv4 header' },
  { layer: 'transport', label: 'TCP / UDP header' },
  { layer: 'framing', label: 'length prefix (TCP)' },
  { layer: 'header', label: 'sensorwire header' },
  { layer: 'body', label: 'sensorwire body, values aside' },
  { layer: 'values', label: 'reading values' },
];
const OTHER_LAYERS: readonly LayerName[] = ['tag', 'malformed', 'undecoded', 'trailer'];

const f1 = (x: number | null): string => (x === null ? '–' : x.toFixed(1));
const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)} %`);
const signed = (n: number, digits = 0): string => (n > 0 ? `+${n.toFixed(digits)}` : n.toFixed(digits));
/** A Markdown table; a column whose cells are all figures is right-aligned. */
function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const figure = (cell: string | number | undefined): boolean => typeof cell === 'number' || /^[-+*\d.,%/ ()B–]*$/.test(cell ?? '');
  const align = header.map((_, i) => (i > 0 && rows.every((r) => figure(r[i])) ? '---:' : '---'));
  return [`| ${header.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
const label = (r: RunResult): string => `${r.spec.transport}, batch ${r.spec.batch}${r.spec.loss > 0 ? `, loss ${r.spec.loss} %` : ''}`;
const sorted = (xs: Iterable<number>): number[] => [...new Set(xs)].sort((a, b) => a - b);

/** The consistency of one run's figures: bytes by layer add up to the wire bytes, and so do the four costs. */
export function layersAddUp(r: RunResult): boolean {
  const m = r.measured;
  const layers = Object.values(m.layers).reduce((a, b) => a + b, 0);
  const costs = m.cost.handshake.bytes + m.cost.teardown.bytes + m.cost.session.bytes + m.cost.steady.bytes;
  return layers === m.bytes && costs === m.bytes;
}

function headline(lossless: readonly Comparison[]): string {
  return table(
    ['transport', 'batch', 'readings', 'frames', 'wire bytes', 'bytes / reading', 'model', 'steady bytes / reading', 'model', 'efficiency', 'one-off bytes'],
    lossless.map((c) => {
      const m = c.run.measured;
      return [
        c.run.spec.transport,
        c.run.spec.batch,
        m.readings,
        m.frames,
        m.bytes,
        `**${f1(m.derived.bytesPerReading)}**`,
        f1(c.model.bytesPerReading),
        f1(m.derived.steadyBytesPerReading),
        f1(c.model.steadyBytesPerReading),
        pct(m.derived.efficiency),
        m.derived.oneOff.bytes,
      ];
    }),
  );
}

function layerTable(c: Comparison): string {
  const m = c.run.measured;
  const n = Math.max(1, m.readings);
  const model = c.model.total.layers;
  const others = OTHER_LAYERS.reduce((s, l) => s + m.layers[l], 0);
  const rows = LAYER_ROWS.filter(({ layer }) => m.layers[layer] > 0 || model[layer] > 0).map(({ layer, label: name }) => [
    name,
    m.layers[layer],
    f1(m.layers[layer] / n),
    f1((m.derived.sharePercent?.[layer] ?? 0)),
    model[layer].toFixed(0),
    f1(model[layer] / c.run.spec.readings),
  ]);
  if (others > 0) rows.push(['tags, undecoded, trailer', others, f1(others / n), f1((100 * others) / Math.max(1, m.bytes)), '0', '0.0']);
  rows.push(['**total**', m.bytes, f1(m.bytes / n), '100.0', c.model.total.bytes.toFixed(0), f1(c.model.bytesPerReading)]);
  return table(['layer', 'measured bytes', 'per reading', '% of wire', 'model bytes', 'model per reading'], rows);
}

function causesTable(c: Comparison): string {
  const rows = c.causes.filter((x) => x.frames !== 0 || x.bytes !== 0 || x.cause === 'handshake' || x.cause === 'teardown').map((x) => [x.cause, signed(x.frames), signed(x.bytes), x.note]);
  rows.push(['**measured − model**', `**${signed(c.frames)}**`, `**${signed(c.bytes)}**`, `${c.run.measured.frames} frames, ${c.run.measured.bytes} bytes measured; ${c.model.total.frames} frames, ${c.model.total.bytes.toFixed(0)} bytes modelled`]);
  return table(['cause', 'frames', 'bytes', 'what happened'], rows);
}

function lossTable(runs: readonly RunResult[]): string {
  return table(
    ['transport', 'batch', 'loss', 'packets dropped', 'readings delivered', 'model', 'frames', 'wire bytes', 'bytes / delivered reading', 'TCP retransmissions', 'READINGS resent', 'device: unacknowledged'],
    runs.map((r) => {
      const expected = modelLoss(r.spec.transport, r.spec.loss, r.spec.delivery === 'reliable' ? 1 : reliableShare());
      const m = r.measured;
      return [
        r.spec.transport,
        r.spec.batch,
        `${r.spec.loss} %`,
        r.dropped.a + r.dropped.b,
        `${r.stored} / ${r.spec.readings} (${((100 * r.stored) / r.spec.readings).toFixed(1)} %)`,
        `${(100 * expected.deliveredFraction).toFixed(0)} %`,
        m.frames,
        m.bytes,
        f1(r.stored > 0 ? m.bytes / r.stored : null),
        r.spec.transport === 'tcp' ? `${m.tcpRetransmissions.frames} (${m.tcpRetransmissions.bytes} B)` : '–',
        r.spec.transport === 'tcp' ? '–' : `${m.resent.frames} (${m.resent.bytes} B)`,
        r.device.unacknowledged,
      ];
    }),
  );
}

function segmentsTable(runs: readonly RunResult[]): string {
  return table(
    ['run', 'SYN', 'SYN-ACK', 'FIN', 'RST', 'pure ACKs', 'data segments', 'HELLO', 'READINGS', 'ACK', 'BYE', 'other messages', 'handshake B', 'teardown B', 'HELLO/BYE B', 'steady B', 'layers add up'],
    runs.map((r) => {
      const m = r.measured;
      const s = m.segments;
      return [
        label(r),
        s.syn.frames,
        s.synAck.frames,
        s.fin.frames,
        s.rst.frames,
        s.pureAck.frames,
        s.data.frames,
        m.messages.HELLO,
        m.messages.READINGS,
        m.messages.ACK,
        m.messages.BYE,
        m.messages.CONFIG + m.messages.ERROR + m.messages.PING + m.messages.PONG,
        m.cost.handshake.bytes,
        m.cost.teardown.bytes,
        m.cost.session.bytes,
        m.cost.steady.bytes,
        layersAddUp(r) ? 'yes' : '**no**',
      ];
    }),
  );
}

function modelSection(comparisons: readonly Comparison[]): string {
  const tcp = comparisons.find((c) => c.run.spec.transport === 'tcp' && c.run.tcp !== null)?.run.tcp;
  const sizes = (t: string): string => {
    const c = comparisons.find((x) => x.run.spec.transport === t);
    return c ? `HELLO ${c.model.sizes.hello}, ACK ${c.model.sizes.ack}, BYE ${c.model.sizes.bye} bytes` : 'not run';
  };
  const lines = [
    '## The model',
    '',
    'Each message is modelled as one frame: the headers below it, then the message as the codec encodes it.',
    '',
    table(['header', 'bytes', 'source'], [
      ['Ethernet', ETHERNET_HEADER, 'destination, source, EtherType (the veth carries Ethernet frames; no FCS is captured)'],
      ['IPv4', IPV4_HEADER, 'no options'],
      ['TCP, SYN and SYN-ACK', tcp ? `${tcp.syn} / ${tcp.synAck}` : '40 / 40', `${TCP_HEADER} + options offered and accepted${tcp ? `, read from the capture: ${tcp.options.join(', ')}` : ''}`],
      ['TCP, every other segment', tcp ? tcp.segment : 32, `${TCP_HEADER} + ${(tcp?.segment ?? 32) - TCP_HEADER} (timestamps: 10 bytes and 2 NOPs, negotiated in the SYN)`],
      ['UDP', UDP_HEADER, 'ports, length, checksum'],
      ['sensorwire length prefix (TCP only)', '1', 'varint of the message length, 1 byte up to 127 (PROTOCOL.md §2)'],
      ['sensorwire header', '4–12', 'version·type, flags, device id and seq varints (PROTOCOL.md §3): 5 bytes for seq 2–127, 6 above'],
      ['READINGS body', '7 + 3 a reading + values', 'base time (6), count (1), then sensor id, type, delta (1 byte under 128 ms) and the value (§4.2)'],
      ['ACK body', `${9}–${13}`, `status, ack seq, receive time (6), hold (µs; the model takes ${MODEL_HOLD_US} µs, 2 bytes) (§4.3); rudp adds epoch (4), window, range count`],
    ]),
    '',
    `Message sizes from the codec: tcp ${sizes('tcp')}; udp ${sizes('udp')}; rudp ${sizes('rudp')}. Reading values are the payload, not overhead: the model takes their mean size per reading as measured (the device's nine sensors: float32, float64, uint16, int8, bool, geo, uint32, and a short status string).`,
    '',
    'For R readings in batches of B there are M = ⌈R / B⌉ READINGS messages. The model counts:',
    '',
    '- **TCP**: handshake (SYN, SYN-ACK, ACK), HELLO and its ACK, M READINGS and M ACKs, BYE and its ACK, teardown (FIN, FIN, ACK): 2M + 10 segments, every acknowledgement riding on a segment that carries data.',
    '- **UDP** and **rudp**: HELLO and its ACK, M READINGS and M ACKs, BYE and its ACK: 2M + 4 datagrams.',
    '- Bytes per reading = (Σ frames (14 + 20 + transport header) + Σ message bytes) ÷ R. With B readings a message the headers are shared by B readings, so the overhead per reading falls as about 1/B.',
    '- **Under loss** (p in each direction): UDP delivers (1 − p) of the readings; TCP delivers all, each data frame sent 1/(1 − p) times on average; rudp delivers every reading of its `reliable` sensors — all of them when the run declares every sensor reliable (`--delivery reliable`, the default), else door and status, r = 2/9 of the readings — and of the others what arrives first time or is resent before a newer sample replaces it, about r + (1 − r)(1 − p).',
  ];
  return lines.join('\n');
}

const MECHANISMS = `## Why measurement and model differ

- **Coalescing (TCP).** The device writes its nine READINGS of a sampling round (batch 1) at once, and the server its ACKs as it commits. TCP is a byte stream: with Nagle's algorithm on, bytes written while earlier ones are unacknowledged wait and leave together in one segment, so several messages share one set of Ethernet, IP and TCP headers. This is why TCP with batch 1 costs far fewer frames than the model's one segment per message, and can beat UDP per reading.
- **Pure ACKs and delayed ACKs (TCP).** A receiver acknowledges data by itself only when nothing goes back soon: Linux waits up to about 40 ms (delayed ACK) for data to ride on, then sends an ACK alone, 66 bytes on this link. The model has none; the measurement counts them.
- **Handshake and teardown (TCP).** SYN and SYN-ACK carry 20 bytes of options (MSS, SACK permitted, timestamps, window scale), hence 74-byte frames; the ACK, both FINs and the last ACK are 66 bytes each. About 420 bytes a connection, paid once, spread over the readings of the run. UDP and rudp have nothing like it.
- **TCP options on every segment.** Timestamps (RFC 7323), negotiated in the SYN, add 12 bytes to every later segment; under loss SACK blocks add 8 to 34 bytes more to some ACKs.
- **HELLO and BYE.** Every session starts with a HELLO carrying the sensor catalogue (names, units, types) and ends with a BYE, each acknowledged: a one-off cost on every transport, which the model includes.
- **Retransmissions.** TCP resends lost segments (often with more data than the lost one had, as the stream grew meanwhile); rudp resends READINGS whose ACK did not come. Both are counted again on the wire, in every layer. Plain UDP resends nothing: what is lost is lost, and the server sends no ACK for it.
- **Cumulative ACKs (rudp).** The rudp server acknowledges every seq up to one number, once per commit group, and may hold an ACK briefly to gather more: fewer ACK datagrams than READINGS. A lost ACK costs nothing when a later one covers it.
- **Delivery classes (rudp).** With \`--delivery catalogue\`, seven of the device's nine sensors are telemetry of the \`latest\` class (PROTOCOL.md §7.7): when a message is resent, their readings that a newer sample has superseded are left out (a message left empty becomes a PING). So under loss rudp then delivers every door and status reading but not every temperature, and its resends are smaller than the first copies; the device counts the left-out readings neither as acknowledged nor as lost. With \`--delivery reliable\` (the default) every sensor is reliable and rudp, like TCP, delivers every reading.
- **Field sizes.** Varints grow with their value: seq numbers above 127, the ACK's hold time in µs, reading deltas of 128 ms and more. The model fixes these; the measurement has the real ones.
- **Where the capture is.** tcpdump runs on the device's end of the link, before the loss rule (which drops packets as they arrive): it sees everything the device sends, lost or not, and everything the server sends that survives the server's side. A frame lost towards the device is still captured.`;

/** The whole report from the measured data. */
export function generateReport(data: ExperimentData): GeneratedReport {
  const runs = data.runs;
  const comparisons = runs.map((r) => compareRun(r, runs));
  const lossless = comparisons.filter((c) => c.run.spec.loss === 0);
  const batches = sorted(runs.map((r) => r.spec.batch));
  const losses = sorted(runs.map((r) => r.spec.loss));
  const transports = [...new Set(runs.map((r) => r.spec.transport))];
  const charts: ChartSpec[] = [];
  if (lossless.length > 0) charts.push(layersChart(lossless), batchChart(lossless, batches));
  if (losses.length > 1) charts.push(deliveredChart(runs, losses), wireBytesChart(runs, losses));

  const first = runs[0]?.spec;
  const out: string[] = [];
  out.push(
    '# What each transport costs on the wire',
    '',
    `Measured by \`${data.command}\` from ${data.startedAt} to ${data.finishedAt}, on ${data.machine.hostname} (${data.machine.os} ${data.machine.kernel}, ${data.machine.cpus}, Node ${data.machine.node}).`,
    '',
    `Each run is a fresh pair of network namespaces joined by a veth link (MTU ${data.mtu}): \`sensorwire server\` on one side, one \`sensorwire device\` on the other` +
      (first ? ` sending ${first.readings} readings of its nine sensors, a sampling round every ${first.intervalMs} ms, seed ${first.seed}` : '') +
      `. tcpdump captures the link at the device's end; loss, where set, is an nftables rule dropping that share of the packets at random in each direction. ` +
      'Every capture is analyzed by `sensorwire analyze`\'s code (src/analysis), and "delivered" is what the server committed to its database.',
    '',
    `Transports: ${transports.join(', ')}; readings per message: ${batches.join(', ')}; loss: ${losses.map((l) => `${l} %`).join(', ')}; ${runs.length} runs. ` +
      (runs.every((r) => r.spec.delivery === 'reliable')
        ? 'Every sensor is declared `reliable` (`--delivery reliable`): rudp owes every reading, as TCP does.'
        : 'Sensors keep the simulator\'s delivery classes (`--delivery catalogue`): door and status `reliable`, the telemetry `latest` (PROTOCOL.md §7.7).'),
    '',
  );
  if (lossless.length > 0) {
    out.push('## Without loss', '', headline(lossless), '');
    out.push(
      '"steady" leaves out the one-off cost (TCP handshake and teardown, HELLO, BYE and their ACKs): what one more reading costs. Efficiency is reading value bytes ÷ wire bytes.',
      '',
    );
    out.push('![Wire bytes per reading by layer](bytes-by-layer.svg)', '', '[PNG](bytes-by-layer.png)', '');
    out.push('![Wire bytes per reading against batch size](bytes-per-reading-vs-batch.svg)', '', '[PNG](bytes-per-reading-vs-batch.png)', '');
  }
  if (losses.length > 1) {
    out.push('## Under loss', '', lossTable(runs), '');
    const fewest = Math.min(...runs.filter((r) => r.spec.loss > 0).map((r) => Math.ceil(r.spec.readings / r.spec.batch)));
    const p = Math.max(...losses) / 100;
    out.push(
      `The model's "delivered" is an expectation. A run sends few messages (${fewest} in the smallest), so chance alone moves the measured share: for plain UDP one standard deviation is √(p(1 − p)/M) of the readings, ${(100 * Math.sqrt((p * (1 - p)) / fewest)).toFixed(0)} points at ${(100 * p).toFixed(0)} % loss with ${fewest} messages. "packets dropped" is what the nftables rule counted.`,
      '',
    );
    out.push('![Readings delivered against loss rate](delivered-vs-loss.svg)', '', '[PNG](delivered-vs-loss.png)', '');
    out.push('![Wire bytes per delivered reading against loss rate](wire-bytes-vs-loss.svg)', '', '[PNG](wire-bytes-vs-loss.png)', '');
  }
  out.push(modelSection(comparisons), '', MECHANISMS, '');
  out.push('## Every run: measurement against model', '', 'Bytes by layer, and the difference in frames and bytes split into its causes, each counted in the capture; the last line of each table is the total difference, and the causes add up to it.', '');
  for (const c of comparisons) {
    const r = c.run;
    out.push(`### ${label(r)}`, '');
    out.push(
      `${r.measured.readings} readings in ${r.measured.readingsMessages} READINGS messages seen on the link; ${r.stored} delivered; ` +
        `device: ${r.device.sent} sent, ${r.device.acknowledged} acknowledged, ${r.device.retransmissions} messages resent; ${r.dropped.a + r.dropped.b} packets dropped by the loss rule; run took ${(r.wallMs / 1000).toFixed(1)} s.`,
      '',
    );
    out.push(layerTable(c), '', causesTable(c), '');
  }
  out.push('## Segments, messages and costs of every run', '', segmentsTable(runs), '');
  out.push('## Reproduce', '', '```sh', `sudo ${data.command.replace(/^sensorwire/, 'npx sensorwire')}`, '```', '', 'Needs root, iproute2, nftables and tcpdump. `DIR/data.json` holds every figure above.', '');
  return { markdown: out.join('\n'), charts, comparisons };
}

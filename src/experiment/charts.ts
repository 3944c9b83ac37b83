// The report's charts as ECharts options (pure data, built from the runs), and their rendering:
// SVG by ECharts' server-side renderer, PNG from that SVG by resvg. No browser, no DOM.
import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';
import type { LayerName } from '../analysis/overhead-types.ts';
import type { Comparison } from './compare.ts';
import type { ExperimentTransport, RunResult } from './types.ts';

export interface ChartSpec {
  /** File name without extension, e.g. "bytes-by-layer". */
  readonly name: string;
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly option: echarts.EChartsCoreOption;
}

const CHART_LAYERS: readonly { layer: LayerName; label: string }[] = [
  { layer: 'link', label: 'Ethernet' },
  { layer: 'ip', label: 'IPv4' },
  { layer: 'transport', label: 'TCP/UDP' },
  { layer: 'framing', label: 'length prefix' },
  { layer: 'header', label: 'sensorwire header' },
  { layer: 'body', label: 'sensorwire body' },
  { layer: 'values', label: 'reading values' },
  { layer: 'tag', label: 'auth tag' },
  { layer: 'undecoded', label: 'undecoded' },
];

const COLORS: Record<ExperimentTransport, string> = { tcp: '#3b6fb6', udp: '#d9822b', rudp: '#2f9e62' };
const round1 = (x: number): number => Math.round(x * 10) / 10;

const base = (title: string, subtitle: string): echarts.EChartsCoreOption => ({
  animation: false,
  backgroundColor: '#ffffff',
  textStyle: { fontFamily: 'DejaVu Sans, Arial, sans-serif' },
  title: { text: title, subtext: subtitle, left: 'center', textStyle: { fontSize: 15 } },
  legend: { bottom: 0, type: 'plain', itemGap: 18, itemWidth: 16, textStyle: { fontSize: 11 } },
  grid: { left: 80, right: 30, top: 70, bottom: 80 },
});

const runLabel = (r: RunResult): string => `${r.spec.transport} ×${r.spec.batch}`;

/** Bytes per reading by layer, stacked, one bar per transport and batch, runs without loss. */
export function layersChart(lossless: readonly Comparison[]): ChartSpec {
  const runs = lossless.map((c) => c.run);
  const layers = CHART_LAYERS.filter(({ layer }) => runs.some((r) => r.measured.layers[layer] > 0));
  return {
    name: 'bytes-by-layer',
    title: 'Wire bytes per reading by layer',
    width: 900,
    height: 480,
    option: {
      ...base('Wire bytes per reading, by layer', 'no loss; bars: measured, diamonds: model total; ×N = readings per message'),
      xAxis: { type: 'category', data: runs.map(runLabel) },
      yAxis: { type: 'value', name: 'bytes per reading', nameLocation: 'middle', nameGap: 48 },
      series: [
        ...layers.map(({ layer, label }) => ({
          name: label,
          type: 'bar',
          stack: 'wire',
          data: runs.map((r) => round1(r.measured.layers[layer] / Math.max(1, r.measured.readings))),
        })),
        {
          name: 'model total',
          type: 'scatter',
          symbol: 'diamond',
          symbolSize: 12,
          itemStyle: { color: '#222222' },
          data: lossless.map((c) => round1(c.model.bytesPerReading)),
        },
      ],
    },
  };
}

/** Bytes per reading against batch size, measured and modelled, per transport, runs without loss. */
export function batchChart(lossless: readonly Comparison[], batches: readonly number[]): ChartSpec {
  const transports = [...new Set(lossless.map((c) => c.run.spec.transport))];
  const at = (t: ExperimentTransport, b: number): Comparison | undefined => lossless.find((c) => c.run.spec.transport === t && c.run.spec.batch === b);
  return {
    name: 'bytes-per-reading-vs-batch',
    title: 'Wire bytes per reading against batch size',
    width: 760,
    height: 440,
    option: {
      ...base('Wire bytes per reading against batch size', 'no loss; solid: measured, dashed: model'),
      xAxis: { type: 'category', name: 'readings per message', nameLocation: 'middle', nameGap: 28, data: batches.map(String) },
      yAxis: { type: 'value', name: 'bytes per reading', nameLocation: 'middle', nameGap: 48 },
      series: transports.flatMap((t) => [
        { name: `${t} measured`, type: 'line', symbolSize: 8, itemStyle: { color: COLORS[t] }, data: batches.map((b) => { const c = at(t, b); return c ? round1(c.run.measured.derived.bytesPerReading ?? 0) : null; }) },
        { name: `${t} model`, type: 'line', symbol: 'none', lineStyle: { type: 'dashed', color: COLORS[t] }, itemStyle: { color: COLORS[t] }, data: batches.map((b) => { const c = at(t, b); return c ? round1(c.model.bytesPerReading) : null; }) },
      ]),
    },
  };
}

function lossSeries(runs: readonly RunResult[], losses: readonly number[], value: (r: RunResult) => number): object[] {
  const keys = [...new Map(runs.map((r) => [`${r.spec.transport}/${r.spec.batch}`, r.spec] as const)).values()];
  return keys.map((k) => ({
    name: `${k.transport} ×${k.batch}`,
    type: 'line',
    symbolSize: 8,
    itemStyle: { color: COLORS[k.transport] },
    lineStyle: { color: COLORS[k.transport], type: k.batch === Math.min(...keys.filter((x) => x.transport === k.transport).map((x) => x.batch)) ? 'solid' : 'dashed' },
    data: losses.map((l) => {
      const r = runs.find((x) => x.spec.transport === k.transport && x.spec.batch === k.batch && x.spec.loss === l);
      return r ? round1(value(r)) : null;
    }),
  }));
}

/** Readings delivered (committed by the server), in percent of those taken, against loss. */
export function deliveredChart(runs: readonly RunResult[], losses: readonly number[]): ChartSpec {
  return {
    name: 'delivered-vs-loss',
    title: 'Readings delivered against loss rate',
    width: 760,
    height: 440,
    option: {
      ...base('Readings delivered against loss rate', 'committed by the server, % of the readings taken; ×N = readings per message'),
      xAxis: { type: 'category', name: 'loss, % of packets each way', nameLocation: 'middle', nameGap: 28, data: losses.map(String) },
      yAxis: { type: 'value', name: '% delivered', nameLocation: 'middle', nameGap: 48, min: 0, max: 100 },
      series: lossSeries(runs, losses, (r) => (100 * r.stored) / r.spec.readings),
    },
  };
}

/** Wire bytes of the run (every frame on the link) against loss. */
export function wireBytesChart(runs: readonly RunResult[], losses: readonly number[]): ChartSpec {
  return {
    name: 'wire-bytes-vs-loss',
    title: 'Wire bytes against loss rate',
    width: 760,
    height: 440,
    option: {
      ...base('Wire bytes per delivered reading against loss rate', 'all frames on the link ÷ readings the server committed; ×N = readings per message'),
      xAxis: { type: 'category', name: 'loss, % of packets each way', nameLocation: 'middle', nameGap: 28, data: losses.map(String) },
      yAxis: { type: 'value', name: 'bytes per delivered reading', nameLocation: 'middle', nameGap: 48 },
      series: lossSeries(runs, losses, (r) => r.measured.bytes / Math.max(1, r.stored)),
    },
  };
}

export interface RenderedChart {
  readonly svg: string;
  readonly png: Uint8Array;
}

/** SVG (ECharts SSR) and PNG (resvg, at twice the size) of a chart. */
export function renderChart(spec: ChartSpec): RenderedChart {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: spec.width, height: spec.height });
  try {
    chart.setOption(spec.option);
    const svg = chart.renderToSVGString();
    const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
    return { svg, png };
  } finally {
    chart.dispose();
  }
}

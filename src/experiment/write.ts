// Writes an experiment's report to a folder: report.md, data.json (every measured figure, from
// which the report can be made again), and each chart as SVG and PNG.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from './charts.ts';
import { generateReport } from './report.ts';
import type { ExperimentData } from './types.ts';

/** The files written, relative to `dir`. */
export function writeReport(dir: string, data: ExperimentData): string[] {
  mkdirSync(dir, { recursive: true });
  const report = generateReport(data);
  const files: string[] = [];
  const put = (name: string, content: string | Uint8Array): void => {
    writeFileSync(join(dir, name), content);
    files.push(name);
  };
  for (const chart of report.charts) {
    const { svg, png } = renderChart(chart);
    put(`${chart.name}.svg`, svg);
    put(`${chart.name}.png`, png);
  }
  put('data.json', `${JSON.stringify(data, null, 2)}\n`);
  put('report.md', report.markdown);
  return files;
}

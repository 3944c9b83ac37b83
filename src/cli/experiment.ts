// `sensorwire experiment`: measure every transport on a real link between two network namespaces
// and write a report with charts (src/experiment). Needs root, iproute2, nftables and tcpdump; when
// any is missing it says which and how to install it, and measures nothing.
import { Command } from '@commander-js/extra-typings';
import cliProgress from 'cli-progress';
import { missingRequirements } from '../netns/requirements.ts';
import { EXPERIMENT_DEFAULTS, parseExperimentOptions, type ExperimentOptions } from '../experiment/options.ts';
import { EXPERIMENT_REQUIREMENTS, plannedRuns, runExperiment, type ProgressEvent } from '../experiment/run.ts';
import { writeReport } from '../experiment/write.ts';
import { deviceCommand } from './device.ts';

const EXAMPLE = `
Example:
  sudo npx sensorwire experiment --transports tcp,udp --readings 300 --batch 1,10 --loss 0,5,20 --out ./traffic-analysis

Each (transport, batch, loss) is one run of a few seconds: a fresh pair of network namespaces
joined by a veth (MTU 1500), the server on one side, a device on the other, tcpdump on the link,
nftables dropping --loss percent of the packets each way. Writes DIR/report.md, DIR/data.json and
the charts (SVG and PNG). Needs root, iproute2, nftables and tcpdump.`;

/** The transports this build's `sensorwire device --transport` accepts. */
function deviceTransports(): readonly string[] {
  return deviceCommand().options.find((o) => o.long === '--transport')?.argChoices ?? [];
}

/** What to say when something is missing, or undefined when the experiment can run. */
export function experimentPreflight(o: ExperimentOptions): string | undefined {
  const missing = missingRequirements(EXPERIMENT_REQUIREMENTS);
  if (missing.length > 0) {
    return [
      'experiment: cannot measure, missing:',
      ...missing.map((m) => `  - ${m.what}: ${m.fix}`),
      'Nothing was measured.',
    ].join('\n');
  }
  const accepted = deviceTransports();
  const unsupported = o.transports.filter((t) => !accepted.includes(t));
  if (unsupported.length > 0) {
    return `experiment: this build's device has no --transport ${unsupported.join(', ')} (it accepts ${accepted.join(', ')}); leave it out of --transports. Nothing was measured.`;
  }
  return undefined;
}

function progress(total: number): { on: (e: ProgressEvent) => void; stop: () => void } {
  const plain = !process.stderr.isTTY || process.env['CI'] === 'true';
  const name = (e: ProgressEvent): string => {
    const s = e.kind === 'start' ? e.spec : e.result.spec;
    return `${s.transport} batch ${s.batch} loss ${s.loss}%`;
  };
  if (plain) {
    return {
      on: (e) => {
        if (e.kind === 'end') {
          const r = e.result;
          process.stderr.write(`run ${e.index + 1}/${e.total} ${name(e)}: ${r.measured.frames} frames, ${r.measured.bytes} bytes, ${r.stored}/${r.spec.readings} readings delivered, ${(r.wallMs / 1000).toFixed(1)} s\n`);
        }
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'experiment [{bar}] {value}/{total} runs | {run}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { run: 'starting' });
  return {
    on: (e) => bar.update(e.kind === 'end' ? e.index + 1 : e.index, { run: e.kind === 'start' ? `running ${name(e)}` : `done ${name(e)}` }),
    stop: () => bar.stop(),
  };
}

export function experimentCommand(): Command {
  const d = EXPERIMENT_DEFAULTS;
  return new Command('experiment')
    .description('measure what each transport costs on a real link (network namespaces, tcpdump, kernel loss) and write a report with charts')
    .option('--transports <list>', 'transports, comma-separated: tcp, udp, rudp', d.transports)
    .option('--readings <n>', 'readings each device sends per run', String(d.readings))
    .option('--batch <list>', 'readings per message, comma-separated', d.batch)
    .option('--loss <list>', 'loss rates to run, percent of packets dropped each way, comma-separated', d.loss)
    .option('--interval <ms>', 'time between the device\'s sampling rounds (nine readings each), e.g. 20ms', d.interval)
    .option('--seed <n>', 'random seed of the readings (the same in every run)', String(d.seed))
    .option('--delivery <class>', 'rudp delivery classes: reliable (every sensor; rudp owes every reading, as TCP) or catalogue (door and status reliable, telemetry latest, PROTOCOL.md §7.7)', d.delivery)
    .option('--out <dir>', 'folder for report.md, data.json and the charts', d.out)
    .option('--keep-captures', 'also keep every run\'s pcap in DIR/captures')
    .addHelpText('after', EXAMPLE)
    .action(async (raw) => {
      const o = parseExperimentOptions({ ...raw, keepCaptures: raw.keepCaptures === true });
      const refusal = experimentPreflight(o);
      if (refusal !== undefined) {
        process.stderr.write(`${refusal}\n`);
        process.exitCode = 1;
        return;
      }
      const commandLine = `sensorwire experiment ${process.argv.slice(process.argv.indexOf('experiment') + 1).join(' ')}`.trim();
      const bar = progress(plannedRuns(o).length);
      let data;
      try {
        data = await runExperiment(o, commandLine, bar.on);
      } finally {
        bar.stop();
      }
      const files = writeReport(o.out, data);
      process.stdout.write(`wrote ${files.length} files to ${o.out}: ${files.join(', ')}\n`);
    });
}

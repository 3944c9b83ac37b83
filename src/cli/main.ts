// The sensorwire command line: one subcommand per file in this folder.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from '@commander-js/extra-typings';
import { analyzeCommand } from './analyze.ts';
import { demoCommand } from './demo.ts';
import { deviceCommand } from './device.ts';
import { experimentCommand } from './experiment.ts';
import { fleetCommand } from './fleet.ts';
import { impairCommand } from './impair.ts';
import { readingsCommand } from './readings.ts';
import { serverCommand } from './server.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function program(): Command {
  return new Command('sensorwire')
    .description('ship sensor readings over TCP, UDP and reliable UDP on a compact binary protocol, and measure what each costs on the wire')
    .version(version)
    .showHelpAfterError('(add --help for usage)')
    .addCommand(serverCommand())
    .addCommand(deviceCommand())
    .addCommand(fleetCommand())
    .addCommand(readingsCommand())
    .addCommand(demoCommand())
    .addCommand(analyzeCommand())
    .addCommand(impairCommand())
    .addCommand(experimentCommand());
}

try {
  await program().exitOverride().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError && !(error instanceof InvalidArgumentError)) {
    // commander has printed its message (or the help) already. (An InvalidArgumentError that
    // gets here was thrown by an action, not by commander's parsing: nobody has printed it.)
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`sensorwire: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

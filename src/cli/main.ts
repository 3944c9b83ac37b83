// The sensorwire command line: one subcommand per file in this folder. Each command's module is
// imported only when it is needed (the experiment pulls in echarts, the server SQLite): a run of
// one command loads that command alone; the program's own help, an unknown command or no command
// at all load every one, so that the help lists them all and commander can suggest a name.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, type CommandUnknownOpts } from '@commander-js/extra-typings';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The commands in the order the help lists them, each loaded on demand. */
const COMMANDS: Readonly<Record<string, () => Promise<CommandUnknownOpts>>> = {
  server: async () => (await import('./server.ts')).serverCommand(),
  device: async () => (await import('./device.ts')).deviceCommand(),
  fleet: async () => (await import('./fleet.ts')).fleetCommand(),
  readings: async () => (await import('./readings.ts')).readingsCommand(),
  demo: async () => (await import('./demo.ts')).demoCommand(),
  analyze: async () => (await import('./analyze.ts')).analyzeCommand(),
  impair: async () => (await import('./impair.ts')).impairCommand(),
  experiment: async () => (await import('./experiment.ts')).experimentCommand(),
};

/**
 * The program with the commands `argv` needs: the one it names (as its first argument), or every
 * command when it names none of them.
 */
export async function program(argv: readonly string[] = process.argv): Promise<Command> {
  const named = argv[2];
  const loaders = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
  const commands = await Promise.all(loaders.map((load) => load()));
  const root = new Command('sensorwire')
    .description('ship sensor readings over TCP, UDP and reliable UDP on a compact binary protocol, and measure what each costs on the wire')
    .version(version)
    .showHelpAfterError('(add --help for usage)');
  for (const command of commands) root.addCommand(command);
  return root;
}

try {
  await (await program()).exitOverride().parseAsync(process.argv);
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

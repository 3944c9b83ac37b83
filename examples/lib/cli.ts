// Command-line plumbing shared by the examples: `[host] [port] [extra...]` positionals with the
// lab's defaults, a clear message for bad arguments, and one place that turns errors into exit codes.

/** A mistake in the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Parses a port number. Servers may ask for port 0 (the OS picks a free port); clients cannot
 * connect to port 0, so they pass `allowZero: false`.
 */
export function parsePort(text: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new UsageError(`invalid port '${text}': expected an integer from ${min} to 65535`);
  }
  return port;
}

/**
 * Reads `[host] [port]` from the front of `args`, falling back to `defaults`, and returns the
 * remaining positionals in `rest`. An empty host argument is rejected rather than guessed at.
 */
export function parseEndpoint(
  args: readonly string[],
  defaults: Endpoint,
  role: 'server' | 'client',
): Endpoint & { rest: string[] } {
  const [hostArg, portArg, ...rest] = args;
  if (hostArg !== undefined && hostArg.trim() === '') throw new UsageError('host must not be empty');
  return {
    host: hostArg ?? defaults.host,
    port: portArg === undefined ? defaults.port : parsePort(portArg, role === 'server'),
    rest,
  };
}

/**
 * Runs an example's `main` with the process arguments. `-h`/`--help` prints the usage;
 * a UsageError (or an error from util.parseArgs) prints the message and the usage and exits with 2; any other error prints
 * `error: <message>` and exits with 1.
 */
export function run(usage: string, main: (args: string[]) => Promise<void> | void): void {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    console.log(`usage: ${usage}`);
    return;
  }
  const fail = (err: unknown): void => {
    const code = (err as { code?: unknown } | null)?.code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${(err as Error).message}\nusage: ${usage}`);
      process.exitCode = 2;
    } else {
      console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  };
  try {
    Promise.resolve(main(args)).catch(fail);
  } catch (err) {
    fail(err);
  }
}

// Runs tshark on a capture file and parses what it prints, as the oracle for the analysis
// tests: per-frame fields (-T fields) and conversation tables (-q -z conv,tcp / conv,udp).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs tshark (killed after 60 s) and returns its standard output. */
async function run(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('tshark', args, {
    encoding: 'utf8',
    timeout: 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/** One row per frame, one column per field ('' when the frame has no such field). */
export async function tsharkFields(
  file: string,
  fields: readonly string[],
  displayFilter?: string,
): Promise<string[][]> {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f'];
  for (const f of fields) args.push('-e', f);
  if (displayFilter !== undefined) args.push('-Y', displayFilter);
  const out = await run(args);
  return out
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

export interface ConversationRow {
  readonly a: string;
  readonly b: string;
  /** B to A ("<-" columns). */
  readonly framesBtoA: number;
  readonly bytesBtoA: string;
  /** A to B ("->" columns). */
  readonly framesAtoB: number;
  readonly bytesAtoB: string;
  readonly frames: number;
  readonly bytes: string;
  readonly relativeStart: string;
  readonly duration: string;
}

const ROW =
  /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s*$/;

/**
 * Rows of `tshark -q -z conv,tcp -z conv,udp`, by protocol. Byte columns are kept as printed
 * (e.g. "1076 bytes", "1457 kB").
 */
export async function tsharkConversations(file: string): Promise<Record<'tcp' | 'udp', ConversationRow[]>> {
  const out = await run(['-r', file, '-q', '-z', 'conv,tcp', '-z', 'conv,udp']);
  const tables: Record<'tcp' | 'udp', ConversationRow[]> = { tcp: [], udp: [] };
  let current: ConversationRow[] | null = null;
  for (const line of out.split('\n')) {
    if (line.startsWith('TCP Conversations')) current = tables.tcp;
    else if (line.startsWith('UDP Conversations')) current = tables.udp;
    if (!line.includes('<->')) continue;
    const m = ROW.exec(line);
    if (m === null || current === null) throw new Error(`unparsed tshark conversation line: ${line}`);
    const [, a, b, fb, bb, fa, ba, f, bytes, start, duration] = m;
    current.push({
      a: a ?? '',
      b: b ?? '',
      framesBtoA: Number(fb),
      bytesBtoA: bb ?? '',
      framesAtoB: Number(fa),
      bytesAtoB: ba ?? '',
      frames: Number(f),
      bytes: bytes ?? '',
      relativeStart: start ?? '',
      duration: duration ?? '',
    });
  }
  return tables;
}

/**
 * A byte count as tshark's conversation table prints it (SI prefixes, integer division, a
 * prefix used once the count reaches 10 of that unit): 9999 → "9999 bytes", 10000 → "10 kB".
 */
export function tsharkSize(n: number): string {
  const units = ['kB', 'MB', 'GB', 'TB'];
  for (let i = units.length; i >= 1; i--) {
    const scaled = Math.floor(n / 1000 ** i);
    if (scaled >= 10) return `${scaled} ${units[i - 1]}`;
  }
  return `${n} bytes`;
}

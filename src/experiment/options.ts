// The options of `sensorwire experiment`, validated once at the edge: lists come in as text
// ("tcp,udp", "1,10", "0,5,20") and leave as sorted, duplicate-free arrays of checked values.
import { z } from 'zod';
import { EXPERIMENT_TRANSPORTS, type ExperimentTransport } from './types.ts';

export const EXPERIMENT_DEFAULTS = {
  transports: 'tcp,udp,rudp',
  readings: 300,
  batch: '1,10',
  loss: '0,5,20',
  interval: '20ms',
  seed: 1,
  delivery: 'reliable',
  out: './traffic-analysis',
} as const;

const list = (text: string): string[] => text.split(',').map((s) => s.trim()).filter((s) => s !== '');

const transports = z
  .string()
  .transform(list)
  .pipe(z.array(z.enum(EXPERIMENT_TRANSPORTS as [ExperimentTransport, ...ExperimentTransport[]])).min(1, 'name at least one transport'))
  .transform((names) => EXPERIMENT_TRANSPORTS.filter((t) => names.includes(t)));

const numbers = (schema: z.ZodNumber, what: string): z.ZodType<number[], string> =>
  z
    .string()
    .transform(list)
    .pipe(z.array(z.string().regex(/^\d+(\.\d+)?$/, `${what} are numbers, e.g. 1,10`).transform(Number).pipe(schema)).min(1, `give at least one ${what.replace(/s$/, '')}`))
    .transform((xs) => [...new Set(xs)].sort((a, b) => a - b));

export const experimentOptionsSchema = z.object({
  transports,
  readings: z.coerce.number().int().min(1).max(100_000),
  batch: numbers(z.number().int().min(1).max(255), 'batch sizes'),
  loss: numbers(z.number().min(0).max(90), 'loss rates (percent)'),
  interval: z
    .string()
    .regex(/^\d+(ms|s)?$/, 'an interval is whole ms, e.g. 20ms or 1s')
    .transform((t) => (t.endsWith('ms') ? Number(t.slice(0, -2)) : t.endsWith('s') ? Number(t.slice(0, -1)) * 1000 : Number(t)))
    .pipe(z.number().int().min(1).max(60_000)),
  seed: z.coerce.number().int().min(0).max(0xffff_ffff),
  delivery: z.string().pipe(z.enum(['reliable', 'catalogue'], 'delivery is reliable or catalogue')),
  out: z.string().min(1),
  keepCaptures: z.boolean().default(false),
});

export type ExperimentOptions = z.output<typeof experimentOptionsSchema>;
export type ExperimentInput = z.input<typeof experimentOptionsSchema>;

/** Validates raw options; throws an Error listing every problem, one per option. */
export function parseExperimentOptions(input: ExperimentInput): ExperimentOptions {
  const parsed = experimentOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `--${String(i.path[0] ?? '?').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

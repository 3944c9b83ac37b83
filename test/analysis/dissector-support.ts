// Runs tshark with the Lua dissector (tools/wireshark/sensorwire.lua) and turns what it decoded
// back into the JSON form of messages (PROTOCOL.md §14), so that tests can compare it with the
// test vectors and with the codec. tshark -T json --no-duplicate-keys keeps the tree: a field
// that occurs several times under one parent becomes an array.
//
// Invocation (as root too): tshark -X lua_script:tools/wireshark/sensorwire.lua -r FILE ...
// tshark warns on stderr that it runs as root; Lua user scripts still run because the global
// init.lua sets run_user_scripts_when_superuser = true (see tools/wireshark/README.md).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { AckStatus, DeliveryClass, MessageType, ValueType } from '../../src/protocol/constants.ts';
import type { Json } from '../../src/protocol/json.ts';
import { ROOT } from '../support/cli.ts';
import type { Requirement } from '../support/requires.ts';

const execFileAsync = promisify(execFile);

export const LUA_SCRIPT = `${ROOT}tools/wireshark/sensorwire.lua`;

/** tshark built with Lua. */
export const tsharkLua: Requirement = {
  what: 'tshark built with Lua ("with Lua" in tshark -v)',
  fix: 'apt-get install -y tshark (Debian builds it with Lua)',
  met: () => {
    try {
      return /with Lua/.test(execFileSync('tshark', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      return false;
    }
  },
};

/** Options that make the heuristics run before any dissector registered on a random port. */
export const HEURISTICS_FIRST = ['-o', 'tcp.try_heuristic_first:TRUE', '-o', 'udp.try_heuristic_first:TRUE'];

type Layer = Record<string, unknown>;

export interface DissectedPacket {
  readonly frame: number;
  readonly protocol: 'tcp' | 'udp' | null;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The sensorwire layers of the frame, in order (several when a TCP segment ends several messages). */
  readonly layers: readonly Layer[];
}

/** Runs tshark with the dissector and returns every frame, with its sensorwire layers. */
export async function dissect(file: string, extra: readonly string[] = []): Promise<DissectedPacket[]> {
  const args = ['-X', `lua_script:${LUA_SCRIPT}`, '-r', file, ...extra, '-T', 'json', '--no-duplicate-keys', '-J', 'frame tcp udp sensorwire'];
  const { stdout, stderr } = await execFileAsync('tshark', args, {
    encoding: 'utf8',
    timeout: 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.doesNotMatch(stderr, /Lua: Error|lua_script/i, `tshark could not load the script:\n${stderr}`);
  assert.doesNotMatch(stdout, /Lua Error/, 'the dissector raised a Lua error');
  const packets = JSON.parse(stdout) as { _source: { layers: Record<string, unknown> } }[];
  return packets.map((p) => {
    const layers = p._source.layers;
    const frame = layers.frame as Layer;
    const tcp = layers.tcp as Layer | undefined;
    const udp = layers.udp as Layer | undefined;
    const transport = tcp ?? udp;
    return {
      frame: Number(frame['frame.number']),
      protocol: tcp ? 'tcp' : udp ? 'udp' : null,
      srcPort: Number(transport?.[tcp ? 'tcp.srcport' : 'udp.srcport']),
      dstPort: Number(transport?.[tcp ? 'tcp.dstport' : 'udp.dstport']),
      layers: asArray(layers.sensorwire) as Layer[],
    };
  });
}

/** A field that may be absent, once, or repeated, as an array. */
export function asArray(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function invert<T extends Record<string, number>>(table: T): Map<number, keyof T & string> {
  return new Map(Object.entries(table).map(([name, code]) => [code, name as keyof T & string]));
}
const TYPE = invert(MessageType);
const VALUE_TYPE = invert(ValueType);
const STATUS = invert(AckStatus);
const DELIVERY = invert(DeliveryClass);

function text(layer: Layer, field: string): string {
  const v = layer[field];
  assert.equal(typeof v, 'string', `field ${field} in ${JSON.stringify(layer).slice(0, 300)}`);
  return v as string;
}

function num(layer: Layer, field: string): number {
  return Number(text(layer, field));
}

function name<T>(table: Map<number, T>, code: number): T {
  const n = table.get(code);
  assert.ok(n !== undefined, `code ${code}`);
  return n;
}

/** A reading's `sensorwire.reading.value` text as the JSON form's value of its type. */
function valueFromText(type: string, t: string): Json {
  switch (type) {
    case 'bool':
      return t === 'true';
    case 'int64': case 'uint64': case 'timestamp': case 'string': case 'bytes':
      return t;
    case 'float32': case 'float64':
      return ['NaN', 'Infinity', '-Infinity', '-0'].includes(t) ? t : Number(t);
    case 'geo': {
      const [lat, lon] = t.split(',');
      return { lat: Number(lat), lon: Number(lon) };
    }
    default:
      return Number(t);
  }
}

function config(layer: Layer): Json {
  return {
    configId: num(layer, 'sensorwire.config.id'),
    intervalMs: num(layer, 'sensorwire.config.interval'),
    enable: asArray(layer['sensorwire.config.enable']).map(Number),
    disable: asArray(layer['sensorwire.config.disable']).map(Number),
  };
}

/** The JSON form of the message a sensorwire layer shows. */
export function messageOf(layer: Layer): Json {
  const type = name(TYPE, num(layer, 'sensorwire.type'));
  const flags = layer['sensorwire.flags_tree'] as Layer;
  const reliable = text(flags, 'sensorwire.flags.reliable') === '1';
  const out: Record<string, Json> = { type, deviceId: num(layer, 'sensorwire.device_id'), seq: num(layer, 'sensorwire.seq') };
  if (reliable && type !== 'ACK') out.reliable = true;
  if (layer['sensorwire.tag'] !== undefined) out.tag = text(layer, 'sensorwire.tag').replaceAll(':', '');
  switch (type) {
    case 'HELLO':
      Object.assign(out, {
        session: num(layer, 'sensorwire.hello.session'),
        resumeSeq: num(layer, 'sensorwire.hello.resume_seq'),
        intervalMs: num(layer, 'sensorwire.hello.interval'),
        model: text(layer, 'sensorwire.hello.model'),
        firmware: text(layer, 'sensorwire.hello.firmware'),
        sensors: asArray(layer['sensorwire.sensor']).map((s) => {
          const e = s as Layer;
          return {
            id: num(e, 'sensorwire.sensor.id'),
            type: name(VALUE_TYPE, num(e, 'sensorwire.sensor.type')),
            delivery: name(DELIVERY, num(e, 'sensorwire.sensor.delivery')),
            unit: text(e, 'sensorwire.sensor.unit'),
            name: text(e, 'sensorwire.sensor.name'),
          };
        }),
      });
      break;
    case 'READINGS':
      out.baseTime = num(layer, 'sensorwire.readings.base_time');
      out.readings = asArray(layer['sensorwire.reading']).map((r) => {
        const reading = r as Layer;
        const valueType = name(VALUE_TYPE, num(reading, 'sensorwire.reading.type'));
        return {
          sensor: num(reading, 'sensorwire.reading.sensor'),
          delta: num(reading, 'sensorwire.reading.delta'),
          type: valueType,
          value: valueFromText(valueType, text(reading, 'sensorwire.reading.value')),
        };
      });
      break;
    case 'ACK':
      Object.assign(out, {
        status: name(STATUS, num(layer, 'sensorwire.ack.status')),
        ackSeq: num(layer, 'sensorwire.ack.ack_seq'),
        rxTime: num(layer, 'sensorwire.ack.rx_time'),
        holdUs: num(layer, 'sensorwire.ack.hold_us'),
      });
      if (reliable) {
        out.rudp = {
          epoch: num(layer, 'sensorwire.ack.epoch'),
          window: num(layer, 'sensorwire.ack.window'),
          sack: asArray(layer['sensorwire.sack']).map((r) => ({
            first: num(r as Layer, 'sensorwire.sack.first'),
            last: num(r as Layer, 'sensorwire.sack.last'),
          })),
        };
      }
      if (layer['sensorwire.config'] !== undefined) out.config = config(layer['sensorwire.config'] as Layer);
      break;
    case 'CONFIG':
      Object.assign(out, config(layer));
      break;
    case 'ERROR':
      Object.assign(out, {
        code: num(layer, 'sensorwire.error.code'),
        refSeq: num(layer, 'sensorwire.error.ref_seq'),
        text: text(layer, 'sensorwire.error.text'),
      });
      break;
    case 'PONG':
      out.pingSeq = num(layer, 'sensorwire.pong.ping_seq');
      break;
    case 'BYE':
      out.reason = num(layer, 'sensorwire.bye.reason');
      break;
    default:
      break;
  }
  return out;
}

/** The error name and offset the dissector reported for a malformed message, if it did. */
export function malformedOf(layer: Layer): { error: string; offset: number } | null {
  if (layer['sensorwire.malformed'] === undefined) return null;
  const tree = layer['sensorwire.malformed_tree'] as Layer | undefined;
  return { error: text(layer, 'sensorwire.malformed'), offset: Number(tree?.['sensorwire.malformed.offset']) };
}

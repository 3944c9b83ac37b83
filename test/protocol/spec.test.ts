// PROTOCOL.md is the contract: the figures it states about the vectors and sizes must be the
// codec's. This suite reads the document and checks them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCode, Limits, TAG_LENGTH, ValueType, MessageType, fromHex, messageFromJson, encode } from '../../src/protocol/index.ts';
import { invalidVectors, streamInvalidVectors, validVectors } from '../vectors/index.ts';

const spec = readFileSync(new URL('../../PROTOCOL.md', import.meta.url), 'utf8');
const vector = (name: string) => {
  const v = validVectors.find((x) => x.name === name);
  assert.ok(v, `vector ${name}`);
  return v;
};

/** The cells of the table row whose first cell contains `label` (or is exactly it, with `exact`). */
function row(label: string, exact = false, text = spec): string[] {
  const first = (l: string): string => (l.split('|')[1] ?? '').trim();
  const line = text.split('\n').find((l) => l.startsWith('|') && (exact ? first(l) === label : first(l).includes(label)));
  assert.ok(line, `PROTOCOL.md has a table row for "${label}"`);
  return line.split('|').slice(1, -1).map((c) => c.trim().replace(/\*\*/g, ''));
}

describe('PROTOCOL.md', () => {
  it('states the number of vectors of each kind', () => {
    assert.match(spec, new RegExp(`holds ${validVectors.length} valid messages`));
    assert.match(spec, new RegExp(`holds ${invalidVectors.length} malformed messages`));
    assert.match(spec, new RegExp(`holds ${streamInvalidVectors.length} malformed TCP streams`));
  });

  it('size table: sensorwire sizes are the vectors', () => {
    const one = fromHex(vector('readings-one-float32').hex).length;
    const ten = fromHex(vector('readings-batch-10-mixed').hex).length;
    assert.deepEqual(row('sensorwire READINGS, UDP').slice(1, 3), [String(one), String(ten)]);
    const frameOne = fromHex(vector('readings-one-float32').frame).length;
    const frameTen = fromHex(vector('readings-batch-10-mixed').frame).length;
    assert.deepEqual(row('sensorwire READINGS, TCP').slice(1, 3), [String(frameOne), String(frameTen)]);
    assert.deepEqual(row('sensorwire READINGS with AUTH').slice(1, 3), [String(one + TAG_LENGTH), String(ten + TAG_LENGTH)]);
  });

  it('size table: the JSON text is the one the document quotes', () => {
    const quoted = /The JSON text is\s+`([^`]+)`/.exec(spec)?.[1];
    assert.ok(quoted);
    assert.equal(row('JSON text')[1], String(Buffer.byteLength(quoted)));
  });

  it('the worked example is the vector', () => {
    const v = vector('readings-one-float32');
    const block = /One vector by hand[\s\S]*?```\n([\s\S]*?)```/.exec(spec)?.[1];
    assert.ok(block);
    const hex = block.split('\n').map((l) => l.split(/\s{2,}/)[0]!.replace(/\s/g, '')).join('');
    assert.equal(hex, v.hex);
    assert.equal(encode(messageFromJson(v.message)).length, 19);
  });

  it('error table lists every code with its number', () => {
    const section = spec.slice(spec.indexOf('## 11. Error codes'), spec.indexOf('## 12.'));
    for (const [name, n] of Object.entries(ErrorCode)) assert.deepEqual(row(String(n), true, section).slice(0, 2), [String(n), name]);
  });

  it('value type table lists every type with its code', () => {
    for (const [name, code] of Object.entries(ValueType)) {
      const hex = `0x${code.toString(16).padStart(2, '0')}`;
      assert.equal(row(hex)[1], name);
    }
  });

  it('message table lists every type with its number', () => {
    for (const [name, n] of Object.entries(MessageType)) assert.ok(spec.includes(`| ${n} | ${name} |`), `${n} ${name}`);
  });

  it('limits table states the limits the codec enforces', () => {
    assert.match(row('message on TCP')[1]!, new RegExp(`^${Limits.MAX_TCP_MESSAGE} bytes`));
    assert.match(row('message on UDP')[1]!, new RegExp(`^${Limits.MAX_UDP_MESSAGE} bytes`));
    assert.match(row('string or bytes')[1]!, new RegExp(`^${Limits.MAX_STRING} bytes`));
    assert.equal(row('readings per READINGS')[1], `1 … ${Limits.MAX_READINGS}`);
    assert.match(row('sensors per catalogue')[1]!, new RegExp(`^1 … ${Limits.MAX_SENSORS}`));
    assert.match(row('sensor ids per CONFIG list')[1]!, new RegExp(`^0 … ${Limits.MAX_CONFIG_SENSORS}`));
    assert.equal(row('selective ranges per ACK')[1], `0 … ${Limits.MAX_SACK_RANGES}`);
  });
});

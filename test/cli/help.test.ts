// --help on every command and --version, as processes: usage on stdout and exit 0. Also an
// unknown command, which is an error.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { inTurn, run } from '../support/cli.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Each command and options its help must list. */
const COMMANDS: Record<string, string[]> = {
  server: ['--host', '--tcp-port', '--udp-port', '--db', '--workers', '--keys', '--log-level'],
  device: ['--transport', '--port', '--id', '--interval', '--count', '--batch', '--seed', '--key', '--drain', '--json'],
  fleet: ['--devices', '--transports', '--tcp-port', '--udp-port', '--count', '--duration', '--json'],
  readings: ['--db', '--device', '--since', '--limit', '--format'],
  demo: ['--db', '--duration', '--devices'],
};

describe('sensorwire --help and --version', () => {
  it('prints usage for the program and every command, exit 0', async (t) => {
    const names = Object.keys(COMMANDS);
    // The program's own help through bin/sensorwire.js, as `npx sensorwire --help` runs it.
    const [top, ...outs] = await inTurn(['', ...names], (name) => (name === '' ? run(t, ['--help'], { via: 'bin' }) : run(t, [name, '--help'])));
    assert.deepEqual([top!.code, top!.stderr], [0, '']);
    assert.match(top!.stdout, /^Usage: sensorwire \[options\] \[command\]\n/);
    for (const name of names) assert.match(top!.stdout, new RegExp(`^\\s+${name} \\[options\\]`, 'm'), `the program's help lists ${name}`);

    names.forEach((name, i) => {
      const out = outs[i]!;
      assert.deepEqual([out.code, out.stderr], [0, ''], name);
      assert.match(out.stdout, new RegExp(`^Usage: sensorwire ${name} \\[options\\]\n`), name);
      for (const option of [...COMMANDS[name]!, '--help']) assert.match(out.stdout, new RegExp(`^\\s+(-\\w, )?${option}\\b`, 'm'), `${name} --help lists ${option}`);
    });
  });

  it('prints the package version with --version, and refuses an unknown command', async (t) => {
    const [long, unknown] = await Promise.all([
      run(t, ['--version'], { via: 'bin' }),
      run(t, ['teleport']),
    ]);
    assert.deepEqual(long, { code: 0, signal: null, stdout: `${version}\n`, stderr: '' });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /teleport/);
  });
});

// `sensorwire experiment` refuses to run, naming what is missing and how to install it, when a
// program it needs is not on PATH (simulated with a PATH that lacks it), and refuses bad options.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { run, tempDir } from '../support/cli.ts';

/** A folder of links to the given programs only, for use as PATH. */
function pathWith(dir: string, programs: readonly string[]): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const name of programs) {
    const target = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    symlinkSync(target, join(bin, name));
  }
  return bin;
}

describe('sensorwire experiment: requirements and options', () => {
  test('without tcpdump and nft: says what is missing and how to install it, exits 1, measures nothing', async (t) => {
    const dir = tempDir(t, 'sensorwire-experiment-cli-');
    const out = join(dir, 'out');
    const PATH = pathWith(dir, ['sh', 'ip', 'ss']);
    const r = await run(t, ['experiment', '--transports', 'tcp', '--loss', '0', '--batch', '1', '--out', out], { env: { PATH } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^experiment: cannot measure, missing:$/m);
    assert.match(r.stderr, /^ {2}- the command 'tcpdump' on PATH: apt-get install -y tcpdump$/m);
    assert.match(r.stderr, /^ {2}- the command 'nft' on PATH: apt-get install -y nftables$/m);
    assert.doesNotMatch(r.stderr, /'ip' on PATH|'ss' on PATH/);
    assert.match(r.stderr, /Nothing was measured\./);
    assert.equal(r.stdout, '');
    assert.equal(existsSync(out), false, 'no report folder');
  });

  test('bad options are refused before anything runs', async (t) => {
    const r = await run(t, ['experiment', '--loss', '0,150', '--transports', 'tcp,carrier-pigeon']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--transports: /);
    assert.match(r.stderr, /--loss: /);
  });

  test('--help gives the defaults and an example', async (t) => {
    const r = await run(t, ['experiment', '--help']);
    assert.equal(r.code, 0);
    for (const text of ['default: "tcp,udp,rudp"', 'default: "1,10"', 'default: "0,5,20"', 'default: "300"', 'Example:', 'sensorwire experiment --transports']) {
      assert.ok(r.stdout.replace(/\s+/g, ' ').includes(text), text);
    }
  });
});

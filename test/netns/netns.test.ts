// The namespace helper itself: two namespaces that reach each other over the veth and nothing
// else; the nftables loss rule drops its share of UDP both ways, TCP still delivers intact, 0
// drops nothing; close() leaves no namespace and no process behind.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ROOT } from '../support/cli.ts';
import { createNetPair, watch, type NetPair, type Side } from '../support/netns.ts';

const PEER = 'test/netns/peer.ts';
const DATAGRAMS = 2000;

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** True while the process runs (a zombie waiting for its parent to reap it does not count). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** Sends `count` datagrams from one side to the other; returns how many arrived. */
async function blast(pair: NetPair, from: Side, to: Side, count = DATAGRAMS): Promise<{ received: number; markers: number }> {
  const sink = watch(pair.node(to, [PEER, 'udp-sink', pair[to].address]), `udp-sink in ${to}`);
  const port = (await sink.line(/^ready (\d+)$/))[1]!;
  const sender = watch(pair.node(from, [PEER, 'udp-blast', pair[to].address, port, String(count)]), `udp-blast in ${from}`);
  await sender.line(new RegExp(`^sent ${count}$`), 30_000);
  const received = Number((await sink.line(/^count (\d+)$/))[1]);
  sender.child.stdin?.write('stop\n');
  const markers = Number((await sender.line(/^markers (\d+)$/))[1]);
  assert.equal(await sender.exit(), 0, sender.describe());
  sink.child.stdin?.write('stop\n');
  assert.equal(await sink.exit(), 0, sink.describe());
  return { received, markers };
}

/** Sends a payload over TCP from one side to the other; checks it arrived whole. */
async function tcpTransfer(pair: NetPair, from: Side, to: Side, bytes: number): Promise<void> {
  const sink = watch(pair.node(to, [PEER, 'tcp-sink', pair[to].address]), `tcp-sink in ${to}`);
  const port = (await sink.line(/^ready (\d+)$/))[1]!;
  const sender = watch(pair.node(from, [PEER, 'tcp-send', pair[to].address, port, String(bytes)]), `tcp-send in ${from}`);
  const [sent, received] = await Promise.all([sender.line(/^sent (\d+) (\w+)$/, 40_000), sink.line(/^received (\d+) (\w+)$/, 40_000)]);
  assert.equal(Number(received[1]), bytes, sink.describe());
  assert.deepEqual(received.slice(1), sent.slice(1), 'the payload arrived intact');
}

describe('network namespace pair', () => {
  it('joins two fresh namespaces by a veth: each reaches the other, over IPv4 and IPv6', async (t) => {
    const pair = await createNetPair({ ipv6: true, cleanup: t });
    assert.match(pair.a.name, /^sw-a-[0-9a-f]{6}$/);
    assert.match(pair.b.name, /^sw-b-[0-9a-f]{6}$/);
    assert.ok(namespaces().includes(pair.a.name) && namespaces().includes(pair.b.name));
    const link = await pair.exec('a', 'ip', ['-o', 'link', 'show', pair.a.iface]);
    assert.match(link.stdout, /mtu 1500\b.*state UP/);
    const addr = await pair.exec('b', 'ip', ['-o', 'addr', 'show', pair.b.iface]);
    assert.match(addr.stdout, new RegExp(`inet ${pair.b.address.replaceAll('.', '\\.')}/24`));

    for (const [from, to, address] of [
      ['a', 'b', pair.b.address],
      ['b', 'a', pair.a.address],
      ['a', 'b', pair.b.address6!],
    ] as const) {
      const echo = watch(pair.node(to, [PEER, 'udp-echo', address]), `udp-echo in ${to}`);
      const port = (await echo.line(/^ready (\d+)$/))[1]!;
      const ping = watch(pair.node(from, [PEER, 'udp-ping', address, port]), `udp-ping in ${from}`);
      await ping.line(/^pong$/);
      assert.equal(await ping.exit(), 0);
      echo.child.stdin?.end();
      assert.equal(await echo.exit(), 0, echo.describe());
    }
    await pair.close();
  });

  it('with 20 % loss drops about a fifth of the UDP datagrams each way; TCP still delivers intact', async (t) => {
    // A 10 ms floor under TCP's retransmission timeout keeps the transfer to seconds (see netns.ts).
    const pair = await createNetPair({ tcpRtoMinMs: 10, cleanup: t });
    await pair.setLoss(20);
    const [ab, ba] = await Promise.all([blast(pair, 'a', 'b'), blast(pair, 'b', 'a')]);
    const dropped = await pair.dropped();
    t.diagnostic(`20 % loss: a→b ${ab.received}/${DATAGRAMS} (${(ab.received / DATAGRAMS).toFixed(3)}), b→a ${ba.received}/${DATAGRAMS} (${(ba.received / DATAGRAMS).toFixed(3)}); rule dropped ${dropped.a} in a, ${dropped.b} in b`);
    for (const [name, r, droppedAtReceiver] of [['a→b', ab, dropped.b], ['b→a', ba, dropped.a]] as const) {
      const share = r.received / DATAGRAMS;
      // Binomial(2000, 0.8): sd ≈ 0.9 %, so 74–86 % is more than six sd either way.
      assert.ok(share >= 0.74 && share <= 0.86, `${name}: ${share} received`);
      // Every missing datagram was dropped by the rule (not by a full socket buffer); the rule also
      // counted some of the end markers.
      const missing = DATAGRAMS - r.received;
      assert.ok(droppedAtReceiver >= missing && droppedAtReceiver <= missing + r.markers, `${name}: ${droppedAtReceiver} dropped by the rule, ${missing} missing, ${r.markers} markers`);
    }
    await tcpTransfer(pair, 'a', 'b', 256 * 1024);
    const afterTcp = await pair.dropped();
    assert.ok(afterTcp.a > dropped.a && afterTcp.b > dropped.b, 'the rule also dropped TCP segments both ways (data and ACKs)');
  });

  it('with loss 0 (after 50 %) drops nothing', async (t) => {
    const pair = await createNetPair({ mtu: 1400, cleanup: t });
    assert.match((await pair.exec('b', 'ip', ['-o', 'link', 'show', pair.b.iface])).stdout, /mtu 1400\b/);
    await pair.setLoss(50);
    await pair.setLoss(0);
    for (const side of ['a', 'b'] as const) {
      const tables = await pair.exec(side, 'nft', ['list', 'tables']);
      assert.equal(tables.stdout.trim(), '', `no table left in ${side}`);
    }
    const [ab, ba] = await Promise.all([blast(pair, 'a', 'b'), blast(pair, 'b', 'a')]);
    assert.deepEqual([ab.received, ba.received], [DATAGRAMS, DATAGRAMS]);
    await tcpTransfer(pair, 'b', 'a', 256 * 1024);
  });

  it('with lossHook "output" drops in the sending namespace instead', async (t) => {
    const pair = await createNetPair({ lossHook: 'output', cleanup: t });
    await pair.setLoss(25);
    const ruleset = await pair.exec('a', 'nft', ['list', 'table', 'inet', 'sw']);
    assert.match(ruleset.stdout, /hook output/);
    assert.match(ruleset.stdout, /oifname "veth-a" numgen random mod 10000 < 2500 counter packets \d+ bytes \d+ drop/);
    const ab = await blast(pair, 'a', 'b', 800);
    const dropped = await pair.dropped();
    const missing = 800 - ab.received;
    t.diagnostic(`25 % loss at the sender: a→b ${ab.received}/800 (${(ab.received / 800).toFixed(3)}); rule dropped ${dropped.a} in a, ${dropped.b} in b`);
    assert.ok(ab.received / 800 > 0.66 && ab.received / 800 < 0.84, `${ab.received} of 800`);
    assert.ok(dropped.a >= missing && dropped.a <= missing + ab.markers, `${dropped.a} dropped in a, ${missing} missing`);
  });

  it('close() kills what runs inside, deletes both namespaces, and may be called again', async () => {
    const pair = await createNetPair();
    const echo = watch(pair.node('a', [PEER, 'udp-echo', pair.a.address]), 'udp-echo');
    await echo.line(/^ready \d+$/);
    // A process the helper did not start itself, still inside the namespace.
    const sleeper = await pair.exec('b', 'sh', ['-c', 'sleep 30 > /dev/null 2>&1 & echo $!']);
    const sleeperPid = Number(sleeper.stdout.trim());
    assert.ok(alive(echo.child.pid) && alive(sleeperPid));
    await pair.close();
    await echo.exit(5000);
    assert.ok(!alive(sleeperPid), 'the stray process inside b is gone');
    assert.ok(!namespaces().includes(pair.a.name) && !namespaces().includes(pair.b.name), namespaces().join(', '));
    await pair.close();
    await assert.rejects(pair.setLoss(10), /closed/);
  });

  it('leaves nothing behind when the test process dies of an exception or a signal', async (t) => {
    await Promise.all(['throw', 'wait'].map(async (mode) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/netns/abandon.ts'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      t.after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const abandoned = watch(child, `abandon.ts ${mode}`);
      const [, a, b, pid] = await abandoned.line(/^pair (\S+) (\S+) (\d+)$/);
      assert.ok(namespaces().includes(a!) && alive(Number(pid)));
      if (mode === 'wait') child.kill('SIGTERM');
      else child.stdin.write('throw\n');
      await abandoned.exit();
      assert.equal(mode === 'wait' ? child.signalCode : child.exitCode, mode === 'wait' ? 'SIGTERM' : 1, abandoned.describe());
      assert.ok(!namespaces().includes(a!) && !namespaces().includes(b!), `${mode}: ${namespaces().join(', ')}`);
      assert.ok(!alive(Number(pid)), `${mode}: the process inside is gone`);
    }));
  });
});

// rudp and TCP across a real link with kernel loss (PROTOCOL.md §7, issue 4): two network
// namespaces joined by a veth, nftables dropping 0, 5 and 20 % of the packets in each direction,
// TCP and UDP alike. At each rate a device sends 1,000 readings of sensors all declared
// `reliable` over each transport, and the server must have stored every one of them, once; the
// rudp device must have repaired the loss itself (retransmissions under loss, none without), and
// the server must have counted the copies it discarded. Needs root, iproute2, nftables and
// tcpdump: without them it fails, naming what is missing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EXPERIMENT_REQUIREMENTS, runOne } from '../../src/experiment/run.ts';
import { requireAll } from '../support/requires.ts';

const READINGS = 1000;

describe('rudp and TCP under kernel loss', { timeout: 300_000 }, () => {
  for (const loss of [0, 5, 20]) {
    for (const transport of ['tcp', 'rudp'] as const) {
      test(`${transport} at ${loss} % loss delivers all ${READINGS} readings`, { timeout: 120_000 }, async (t) => {
        requireAll(...EXPERIMENT_REQUIREMENTS);
        const r = await runOne(
          { transport, batch: 9, loss, readings: READINGS, intervalMs: 5, seed: 7, deviceId: 40 + loss },
          undefined,
          { deviceArgs: ['--delivery', 'reliable'] },
        );
        t.diagnostic(
          `${r.device.durationMs} ms, ${r.measured.frames} frames, ${r.measured.bytes} wire bytes, ` +
            `${r.device.retransmissions} retransmissions by the device, ${r.measured.tcpRetransmissions.frames} TCP retransmissions, ` +
            `${r.dropped.a + r.dropped.b} packets dropped by nft`,
        );
        assert.equal(r.device.acknowledged, READINGS, 'every reading acknowledged');
        assert.equal(r.device.unacknowledged, 0);
        assert.equal(r.stored, READINGS, 'every reading stored, once (the store keeps a reading once)');
        if (loss > 0) assert.ok(r.dropped.a + r.dropped.b > 0, 'the loss rule dropped packets');
        else assert.equal(r.dropped.a + r.dropped.b, 0);
        if (transport === 'rudp') {
          assert.equal(r.seenAs, 'rudp', 'the capture shows rudp (the RELIABLE flag)');
          if (loss === 0) assert.equal(r.device.retransmissions, 0, 'no loss, nothing sent again');
          else assert.ok(r.device.retransmissions > 0, 'the device repaired the loss');
        }
      });
    }
  }
});

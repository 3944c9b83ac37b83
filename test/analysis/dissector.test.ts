// The Wireshark dissector (tools/wireshark/sensorwire.lua) under tshark, on captures written by
// the test from the protocol's vectors: every valid vector as a UDP datagram (port 7878, and on
// other ports through the heuristic) and as one TCP stream cut into segments of 1, 7 and 1500
// bytes (reassembly), each decoded field equal to the vector's JSON form; every malformed vector
// reported with the reference decoder's error name and offset; the malformed TCP streams; and
// traffic that is not sensorwire left alone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHex } from '../../src/protocol/index.ts';
import { SuiteCleanup, tempDir } from '../support/cli.ts';
import { command, requireAll } from '../support/requires.ts';
import { invalidVectors, streamInvalidVectors, validVectors } from '../vectors/index.ts';
import { dissect, HEURISTICS_FIRST, malformedOf, messageOf, tsharkLua } from './dissector-support.ts';
import { pcapOf, tcpFrames, udpFrames } from './overhead-pcap.ts';

describe('Wireshark dissector on the vectors', { timeout: 60_000 }, () => {
  const cleanup = new SuiteCleanup();
  let dir = '';
  const write = (name: string, frames: Uint8Array[]): string => {
    const file = join(dir, name);
    writeFileSync(file, pcapOf(frames));
    return file;
  };

  before(() => {
    requireAll(command('tshark'), tsharkLua);
    dir = tempDir(cleanup, 'sensorwire-dissector-');
  });
  after(() => cleanup.run());

  for (const [label, port, extra] of [['port 7878', 7878, []], ['another port (heuristic)', 42000, HEURISTICS_FIRST]] as const) {
    it(`decodes every valid vector as a UDP datagram on ${label}`, async () => {
      const file = write(`udp-${port}.pcap`, udpFrames(41000, port, validVectors.map((v) => fromHex(v.hex))));
      const packets = await dissect(file, extra);
      assert.equal(packets.length, validVectors.length);
      packets.forEach((p, i) => {
        const v = validVectors[i]!;
        assert.equal(p.layers.length, 1, v.name);
        assert.equal(malformedOf(p.layers[0]!), null, v.name);
        assert.deepEqual(messageOf(p.layers[0]!), v.message, v.name);
      });
    });
  }

  for (const [segment, port, extra] of [[1, 7878, []], [7, 7878, []], [1500, 7878, []], [7, 42001, HEURISTICS_FIRST]] as const) {
    it(`reassembles every valid vector from a TCP stream in ${segment}-byte segments on port ${port}`, async () => {
      const stream = Uint8Array.from(Buffer.concat(validVectors.map((v) => fromHex(v.frame))));
      const file = write(`tcp-${segment}-${port}.pcap`, tcpFrames({ clientPort: 41001, serverPort: port, stream, segment }));
      const packets = await dissect(file, extra);
      const layers = packets.flatMap((p) => p.layers);
      assert.equal(layers.length, validVectors.length);
      layers.forEach((layer, i) => {
        const v = validVectors[i]!;
        assert.equal(malformedOf(layer), null, v.name);
        assert.deepEqual(messageOf(layer), v.message, v.name);
        assert.equal(Number(layer['sensorwire.length']), v.hex.length / 2, `${v.name}: length prefix`);
      });
      // Each message shows in the frame of the segment that completes it (frames 1-3 are the
      // handshake, then data segment k is frame 4 + 2k, each followed by its ACK).
      let end = 0;
      const completing = validVectors.map((v) => 4 + 2 * (Math.ceil((end += v.frame.length / 2) / segment) - 1));
      assert.deepEqual(packets.filter((p) => p.layers.length > 0).map((p) => p.frame), [...new Set(completing)]);
    });
  }

  it('reports each malformed vector with the decoder\'s error name and offset', async () => {
    // An empty datagram has no payload for tshark to hand to a dissector: left out.
    const vectors = invalidVectors.filter((v) => v.hex !== '');
    const file = write('invalid.pcap', udpFrames(41002, 7878, vectors.map((v) => fromHex(v.hex))));
    const packets = await dissect(file);
    assert.equal(packets.length, vectors.length);
    packets.forEach((p, i) => {
      const v = vectors[i]!;
      assert.equal(p.layers.length, 1, v.name);
      assert.deepEqual(malformedOf(p.layers[0]!), { error: v.error, offset: v.offset }, v.name);
    });
  });

  it('reports a bad TCP length prefix after the good frames before it', async () => {
    const frames = streamInvalidVectors.flatMap((v, i) => {
      const stream = fromHex(v.hex);
      return tcpFrames({ clientPort: 41100 + i, serverPort: 7878, stream, segment: stream.length });
    });
    const packets = await dissect(write('stream-invalid.pcap', frames));
    streamInvalidVectors.forEach((v, i) => {
      const layers = packets.filter((p) => p.srcPort === 41100 + i).flatMap((p) => p.layers);
      assert.equal(layers.length, v.framesBefore + 1, v.name);
      layers.slice(0, -1).forEach((layer) => assert.equal(malformedOf(layer), null, v.name));
      assert.deepEqual(malformedOf(layers.at(-1)!), { error: v.error, offset: v.offset }, v.name);
    });
  });

  it('leaves other traffic alone on other ports', async () => {
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    const file = write('other.pcap', [
      ...udpFrames(41003, 42002, [text('sensorwire-capture-marker-1'), Uint8Array.of(0x12, 0x08, 1, 1), Uint8Array.of(0x16, 0x00, 1)]),
      ...tcpFrames({ clientPort: 41004, serverPort: 42003, stream: text('GET / HTTP/1.0\r\n\r\n'), segment: 100 }),
      // A READINGS-like start whose body does not decode.
      ...udpFrames(41005, 42004, [fromHex(invalidVectors.find((v) => v.name === 'readings-count-0')!.hex)]),
    ]);
    const packets = await dissect(file, HEURISTICS_FIRST);
    assert.deepEqual(packets.flatMap((p) => p.layers), []);
  });
});

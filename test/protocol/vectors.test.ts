import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ProtocolError, StreamDecoder, decode, encode, encodeFrame, fromHex, messageFromJson, toHex, verifyTag,
  type Frame, type Message,
} from '../../src/protocol/index.ts';
import { invalidVectors, streamInvalidVectors, validVectors } from '../vectors/index.ts';

function decodeError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ProtocolError, nothing was thrown');
}

function messages(frames: Frame[]): Message[] {
  return frames.map((f) => {
    assert.ok(f.ok, f.ok ? '' : `frame failed: ${f.error.message}`);
    return f.message;
  });
}

/** Splits bytes at random places (deterministic for a seed). */
function randomSplits(bytes: Uint8Array, seed: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let state = seed;
  let at = 0;
  while (at < bytes.length) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (state % 7);
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  return parts;
}

describe('valid vectors', () => {
  it('there are at least 12, covering every message type and value type', () => {
    assert.ok(validVectors.length >= 12);
    const types = new Set(validVectors.map((v) => (v.message as { type: string }).type));
    assert.deepEqual([...types].sort(), ['ACK', 'BYE', 'CONFIG', 'ERROR', 'HELLO', 'PING', 'PONG', 'READINGS']);
    const valueTypes = new Set(
      validVectors.flatMap((v) => ((v.message as { readings?: { type: string }[] }).readings ?? []).map((r) => r.type)),
    );
    assert.equal(valueTypes.size, 15);
  });

  for (const v of validVectors) {
    describe(v.name, () => {
      const expected = messageFromJson(v.message);
      const bytes = fromHex(v.hex);

      it('decodes to the message', () => {
        assert.deepEqual(decode(bytes), expected);
      });

      it('encodes to the bytes', () => {
        const options = v.key !== undefined ? { key: fromHex(v.key), session: v.session } : undefined;
        assert.equal(toHex(encode(expected, options)), v.hex);
        // A decoded message with its tag re-encodes byte for byte without the key.
        assert.equal(toHex(encode(expected)), v.hex);
      });

      it('frames with its length prefix', () => {
        assert.equal(toHex(encodeFrame(expected)), v.frame);
      });

      if (v.key !== undefined) {
        it('carries a tag that verifies under its key and no other', () => {
          const session = v.session!;
          assert.equal(verifyTag(fromHex(v.key!), session, bytes), true);
          const wrong = fromHex(v.key!);
          wrong[0] = wrong[0]! ^ 1;
          assert.equal(verifyTag(wrong, session, bytes), false);
          const flipped = bytes.slice();
          flipped[5] = flipped[5]! ^ 0x10;
          assert.equal(verifyTag(fromHex(v.key!), session, flipped), false);
          // The same bytes under another session: the tag binds the session.
          assert.equal(verifyTag(fromHex(v.key!), session + 1, bytes), false);
        });
      }

      it('comes out of the stream decoder whole, byte by byte and in random splits', () => {
        const frame = fromHex(v.frame);
        assert.deepEqual(messages(new StreamDecoder().write(frame)), [expected]);
        const oneByOne = new StreamDecoder();
        const got: Frame[] = [];
        for (let i = 0; i < frame.length; i++) got.push(...oneByOne.write(frame.subarray(i, i + 1)));
        assert.deepEqual(messages(got), [expected]);
        assert.equal(oneByOne.buffered, 0);
        for (let seed = 1; seed <= 5; seed++) {
          const split = new StreamDecoder();
          const parts = randomSplits(frame, seed).flatMap((p) => split.write(p));
          assert.deepEqual(messages(parts), [expected]);
        }
      });
    });
  }

  it('come out of the stream decoder back to back, in random splits', () => {
    const all = validVectors.map((v) => fromHex(v.frame));
    const stream = new Uint8Array(all.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of all) {
      stream.set(f, at);
      at += f.length;
    }
    const expected = validVectors.map((v) => messageFromJson(v.message));
    assert.deepEqual(messages(new StreamDecoder().write(stream)), expected);
    for (let seed = 1; seed <= 20; seed++) {
      const d = new StreamDecoder();
      assert.deepEqual(messages(randomSplits(stream, seed).flatMap((p) => d.write(p))), expected);
      assert.equal(d.buffered, 0);
    }
  });
});

describe('invalid vectors', () => {
  it('there are at least 8', () => assert.ok(invalidVectors.length >= 8));

  for (const v of invalidVectors) {
    it(`${v.name}: ${v.error} at byte ${v.offset}`, () => {
      const bytes = fromHex(v.hex);
      const options = v.maxMessageSize !== undefined ? { maxMessageSize: v.maxMessageSize } : undefined;
      const error = decodeError(() => decode(bytes, options));
      assert.equal(error.code, v.error);
      assert.equal(error.offset, v.offset);
    });
  }

  for (const v of invalidVectors.filter((x) => x.hex.length > 0 && x.maxMessageSize === undefined)) {
    it(`${v.name}: the stream decoder reports it as a bad frame and goes on`, () => {
      const body = fromHex(v.hex);
      const ping = encodeFrame({ type: 'PING', deviceId: 1, seq: 9 });
      const bad = encodeFrameBytes(body);
      const d = new StreamDecoder();
      const frames = [...d.write(bad), ...d.write(ping)];
      assert.equal(frames.length, 2);
      const [first, second] = frames;
      assert.ok(first && !first.ok && first.error.code === v.error);
      assert.ok(second?.ok && second.message.type === 'PING');
    });
  }
});

describe('invalid streams', () => {
  for (const v of streamInvalidVectors) {
    it(`${v.name}: ${v.error} at stream byte ${v.offset}, after ${v.framesBefore} good frames`, () => {
      const d = new StreamDecoder();
      const frames = d.write(fromHex(v.hex));
      assert.equal(frames.length, v.framesBefore + 1);
      assert.ok(frames.slice(0, -1).every((f) => f.ok));
      const last = frames.at(-1);
      assert.ok(last && !last.ok);
      assert.equal(last.error.code, v.error);
      assert.equal(last.error.offset, v.offset);
      assert.equal(d.error?.code, v.error);
      assert.throws(() => d.write(Uint8Array.of(1)), ProtocolError);
    });
  }
});

function encodeFrameBytes(body: Uint8Array): Uint8Array {
  const prefix: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  prefix.push(n);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

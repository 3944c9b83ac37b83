// Interop: an independent Python codec, written from PROTOCOL.md alone
// (test/interop/python/sw_codec.py), must pass every test vector.
//
// The expected number of checks is computed here from the vector files, with
// the same rule check_vectors.py documents, so a vector the Python side
// skipped or never reached makes this test fail even if nothing "failed".
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const vectorDir = join(repoRoot, "test", "vectors");
const script = join("test", "interop", "python", "check_vectors.py");

interface ValidVector {
  name: string;
  hex: string;
  frame: string;
  key?: string;
  message: unknown;
}
interface InvalidVector {
  name: string;
  hex: string;
  error: string;
  offset: number;
  maxMessageSize?: number;
}
interface StreamInvalidVector extends InvalidVector {
  framesBefore: number;
}

function load<T>(file: string): T[] {
  const parsed: unknown = JSON.parse(readFileSync(join(vectorDir, file), "utf8"));
  assert.ok(Array.isArray(parsed), `${file} is not a JSON array`);
  return parsed as T[];
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runPython(args: readonly string[]): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile("python3", [...args], { cwd: repoRoot, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        // python3 missing, killed by the timeout, ...
        reject(error);
        return;
      }
      resolvePromise({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

test("the Python codec written from PROTOCOL.md passes every test vector", async () => {
  const valid = load<ValidVector>("valid.json");
  const invalid = load<InvalidVector>("invalid.json");
  const streamInvalid = load<StreamInvalidVector>("stream-invalid.json");
  assert.ok(valid.length > 0 && invalid.length > 0 && streamInvalid.length > 0);

  // valid: decode, encode, frame, stream (+ tag verification when keyed);
  // invalid: one decode check; stream-invalid: fed whole and byte by byte.
  const keyed = valid.filter((v) => v.key !== undefined).length;
  const expected = 4 * valid.length + keyed + invalid.length + 2 * streamInvalid.length;

  const { code, stdout, stderr } = await runPython([script]);
  const lines = stdout.trimEnd().split("\n");
  const summary = lines.at(-1) ?? "";
  const match = /^(\d+) passed, (\d+) failed$/.exec(summary);
  assert.ok(match, `no summary line in the output:\n${stdout}\n${stderr}`);
  const passed = Number(match[1]);
  const failed = Number(match[2]);

  assert.equal(failed, 0, `failed checks:\n${lines.slice(0, -1).join("\n")}`);
  assert.equal(code, 0, `check_vectors.py exited ${code}\n${stderr}`);
  assert.equal(passed, expected, `expected ${expected} checks to pass, ${passed} did`);
});

test("check_vectors.py reports a failing vector and exits non-zero", async () => {
  // Guards against a driver that always prints "N passed, 0 failed".
  const dir = mkdtempSync(join(tmpdir(), "sw-vectors-"));
  try {
    const valid = load<ValidVector>("valid.json");
    const invalid = load<InvalidVector>("invalid.json");
    const streamInvalid = load<StreamInvalidVector>("stream-invalid.json");
    const first = invalid[0];
    assert.ok(first !== undefined);
    const broken: InvalidVector[] = [{ ...first, offset: first.offset + 1 }, ...invalid.slice(1)];
    writeFileSync(join(dir, "valid.json"), JSON.stringify(valid));
    writeFileSync(join(dir, "invalid.json"), JSON.stringify(broken));
    writeFileSync(join(dir, "stream-invalid.json"), JSON.stringify(streamInvalid));

    const { code, stdout } = await runPython([script, dir]);
    assert.notEqual(code, 0);
    assert.match(stdout, new RegExp(`^FAIL invalid/${first.name}: `, "m"));
    assert.match(stdout, /^\d+ passed, 1 failed\n?$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

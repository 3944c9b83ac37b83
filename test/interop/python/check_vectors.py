#!/usr/bin/env python3
"""Runs every sensorwire test vector through the independent Python codec.

Checks (one line printed per failed check; a summary line at the end):
  valid.json           per vector: decode, encode, frame, stream (byte by byte);
                       plus tag-verify for vectors with a "key"
  invalid.json         per vector: decode raises the right error at the right offset
  stream-invalid.json  per vector: stream (whole) and stream (byte by byte)

Last line: "N passed, M failed". Exit status 1 if M > 0 (2 on a usage error).
Usage: check_vectors.py [VECTOR_DIR]   (default: test/vectors next to this file's repo)
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sw_codec import (  # noqa: E402
    TCP_MAX_MESSAGE,
    ProtocolError,
    StreamDecoder,
    decode,
    encode,
    frame,
    verify_tag,
)


def same(a: Any, b: Any, path: str = "$") -> str | None:
    """Exact structural comparison of JSON values; returns a difference or None.

    bool is never equal to a number; numbers compare by exact value (an int in
    the vector equals a float of the same value, since JSON has one number
    type), and a zero's sign counts when both sides are floats; NaN never
    appears as a number (the JSON form writes it as "NaN").
    """
    if isinstance(a, bool) or isinstance(b, bool):
        if type(a) is type(b) and a == b:
            return None
        return f"{path}: {a!r} != {b!r}"
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num):
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return f"{path}: NaN as a number ({a!r} vs {b!r})"
        if a != b:
            return f"{path}: {a!r} != {b!r}"
        if isinstance(a, float) and isinstance(b, float) and a == 0:
            if math.copysign(1, a) != math.copysign(1, b):
                return f"{path}: {a!r} != {b!r} (sign of zero)"
        return None
    if isinstance(a, str) and isinstance(b, str):
        return None if a == b else f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = same(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a is None and b is None:
        return None
    return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"


class Runner:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, label: str, fn: Callable[[], str | None]) -> None:
        try:
            problem = fn()
        except ProtocolError as e:
            problem = f"unexpected ProtocolError {e}"
        except Exception as e:  # a crash is a failed check, not a crashed run
            problem = f"exception {type(e).__name__}: {e}"
        if problem:
            self.failed += 1
            print(f"FAIL {label}: {problem}")
        else:
            self.passed += 1


def _expect_error(fn: Callable[[], Any], name: str, offset: int) -> str | None:
    try:
        got = fn()
    except ProtocolError as e:
        if e.code_name != name or e.offset != offset:
            return f"expected {name}@{offset}, got {e.code_name}@{e.offset} ({e.detail})"
        return None
    return f"expected {name}@{offset}, decoded {json.dumps(got)[:200]}"


def run_valid(r: Runner, vectors: list[dict[str, Any]]) -> None:
    for v in vectors:
        name = v["name"]
        data = bytes.fromhex(v["hex"])
        msg = v["message"]
        key = bytes.fromhex(v["key"]) if "key" in v else None
        session = v.get("session")

        r.check(f"valid/{name}/decode", lambda: same(decode(data), msg))

        def enc() -> str | None:
            got = encode(msg, key=key, session=session)
            return None if got == data else f"encoded {got.hex()} != {v['hex']}"

        r.check(f"valid/{name}/encode", enc)

        def frm() -> str | None:
            got = frame(encode(msg, key=key, session=session))
            return None if got.hex() == v["frame"] else f"framed {got.hex()} != {v['frame']}"

        r.check(f"valid/{name}/frame", frm)

        def stream() -> str | None:
            sd = StreamDecoder()
            fr = bytes.fromhex(v["frame"])
            got: list[bytes] = []
            for i in range(len(fr)):
                got += sd.feed(fr[i : i + 1])
            if sd.error is not None:
                return f"stream error {sd.error}"
            if len(got) != 1:
                return f"{len(got)} messages from one frame"
            if sd.pending:
                return f"{sd.pending} bytes left over"
            return same(decode(got[0]), msg)

        r.check(f"valid/{name}/stream", stream)

        if key is not None:

            def tag() -> str | None:
                if not verify_tag(data, key, session):
                    return "tag does not verify"
                bad = bytearray(data)
                bad[-1] ^= 1
                if verify_tag(bytes(bad), key, session):
                    return "a wrong tag verifies"
                if verify_tag(data, key, session + 1):
                    return "the tag verifies under another session"
                return None

            r.check(f"valid/{name}/tag", tag)


def run_invalid(r: Runner, vectors: list[dict[str, Any]]) -> None:
    for v in vectors:
        data = bytes.fromhex(v["hex"])
        limit = v.get("maxMessageSize", TCP_MAX_MESSAGE)
        r.check(
            f"invalid/{v['name']}",
            lambda: _expect_error(lambda: decode(data, max_message_size=limit), v["error"], v["offset"]),
        )


def run_stream_invalid(r: Runner, vectors: list[dict[str, Any]]) -> None:
    for v in vectors:
        data = bytes.fromhex(v["hex"])
        for mode in ("whole", "bytewise"):

            def check() -> str | None:
                sd = StreamDecoder()
                got: list[bytes] = []
                err: ProtocolError | None = None
                chunks = [data] if mode == "whole" else [data[i : i + 1] for i in range(len(data))]
                for c in chunks:
                    try:
                        got += sd.feed(c)
                    except ProtocolError as e:
                        err = e
                        break
                    if sd.error is not None:
                        err = sd.error
                        break
                if len(got) != v["framesBefore"]:
                    return f"{len(got)} frames before the error, expected {v['framesBefore']}"
                for m in got:
                    decode(m)  # the good frames must hold good messages
                if err is None:
                    return f"no error, expected {v['error']}@{v['offset']}"
                if err.code_name != v["error"] or err.offset != v["offset"]:
                    return f"expected {v['error']}@{v['offset']}, got {err.code_name}@{err.offset}"
                return None

            r.check(f"stream-invalid/{v['name']}/{mode}", check)


def main(argv: list[str]) -> int:
    if len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    vdir = argv[1] if len(argv) == 2 else os.path.join(here, "..", "..", "vectors")

    def load(n: str) -> list[dict[str, Any]]:
        with open(os.path.join(vdir, n), encoding="utf-8") as f:
            return json.load(f)

    r = Runner()
    run_valid(r, load("valid.json"))
    run_invalid(r, load("invalid.json"))
    run_stream_invalid(r, load("stream-invalid.json"))
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Independent Python 3 (stdlib only) implementation of the sensorwire protocol v1.

Written from PROTOCOL.md and the JSON test vectors alone (no look at the
TypeScript sources). Places where the text left a choice open, and the choice
made here, are marked with ``SPEC-GAP``; places where the choice was taken
from a vector rather than from the text are marked ``VECTOR-DRIVEN``.

API
---
decode(data, max_message_size=16384) -> dict   (JSON form of PROTOCOL.md §14)
encode(message, key=None, session=None) -> bytes
frame(message_bytes) -> bytes                   (TCP length prefix + message)
verify_tag(data, key, session) -> bool
StreamDecoder().feed(chunk) -> list[bytes]      (whole messages, TCP framing)
ProtocolError(code_name, offset)
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "ProtocolError",
    "ERROR_CODES",
    "TCP_MAX_MESSAGE",
    "UDP_MAX_MESSAGE",
    "decode",
    "encode",
    "frame",
    "verify_tag",
    "compute_tag",
    "StreamDecoder",
]

TCP_MAX_MESSAGE = 16384
UDP_MAX_MESSAGE = 1200
TAG_SIZE = 8
VERSION = 1
U32_MAX = 0xFFFFFFFF
U48_MAX = (1 << 48) - 1

# §11
ERROR_CODES = {
    "TRUNCATED": 1,
    "TRAILING_BYTES": 2,
    "UNSUPPORTED_VERSION": 3,
    "UNKNOWN_TYPE": 4,
    "BAD_FLAGS": 5,
    "BAD_VARINT": 6,
    "BAD_VALUE": 7,
    "UNKNOWN_VALUE_TYPE": 8,
    "BAD_UTF8": 9,
    "STRING_TOO_LONG": 10,
    "BAD_COUNT": 11,
    "MESSAGE_TOO_LARGE": 12,
    "BAD_SENSOR": 13,
    "BAD_SACK": 14,
    "BAD_TAG": 32,
    "REPLAY": 33,
    "UNKNOWN_DEVICE": 34,
    "UNKNOWN_SENSOR": 35,
    "UNEXPECTED": 36,
    "STORAGE": 37,
    "BUSY": 38,
    "IDLE_TIMEOUT": 39,
    "GAVE_UP": 40,
}


class ProtocolError(Exception):
    """A malformed message or frame: the §11 code name and the offset at fault.

    For messages the offset counts from byte 0 of the message (§1); for the
    stream decoder it counts from byte 0 of the TCP stream (§13). For encoder
    errors the offset is the number of bytes written so far (there is no
    wire offset to report; the spec does not define one).
    """

    def __init__(self, code_name: str, offset: int, detail: str = "") -> None:
        if code_name not in ERROR_CODES:
            raise ValueError(f"unknown error name {code_name!r}")
        self.code_name = code_name
        self.code = ERROR_CODES[code_name]
        self.offset = offset
        self.detail = detail
        msg = f"{code_name} at offset {offset}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


# ---------------------------------------------------------------- tables

# §4
MESSAGE_TYPES = {
    1: "HELLO",
    2: "READINGS",
    3: "ACK",
    4: "CONFIG",
    5: "ERROR",
    6: "PING",
    7: "PONG",
    8: "BYE",
}
MESSAGE_TYPE_CODES = {v: k for k, v in MESSAGE_TYPES.items()}

FLAG_AUTH = 0x01
FLAG_RELIABLE = 0x02
FLAG_CONFIG = 0x04
FLAG_RESERVED = 0xF8

# §5
VALUE_TYPES = {
    0x01: "bool",
    0x02: "int8",
    0x03: "int16",
    0x04: "int32",
    0x05: "int64",
    0x06: "uint8",
    0x07: "uint16",
    0x08: "uint32",
    0x09: "uint64",
    0x0A: "float32",
    0x0B: "float64",
    0x0C: "string",
    0x0D: "bytes",
    0x0E: "timestamp",
    0x0F: "geo",
}
VALUE_TYPE_CODES = {v: k for k, v in VALUE_TYPES.items()}

# name -> (struct format, size) for the fixed-size integer types
INT_FORMATS = {
    "int8": (">b", 1),
    "int16": (">h", 2),
    "int32": (">i", 4),
    "int64": (">q", 8),
    "uint8": (">B", 1),
    "uint16": (">H", 2),
    "uint32": (">I", 4),
    "uint64": (">Q", 8),
    "timestamp": (">q", 8),
}
# SPEC-GAP §14: "int64, uint64 and timestamp as decimal strings" - the other
# integer types are JSON numbers.
STRING_INT_TYPES = {"int64", "uint64", "timestamp"}

# §4.1 delivery class.  SPEC-GAP §14 does not say whether `delivery` (and the
# `type` of a sensor or reading) is written as the number or the name; the
# vectors use the names `reliable`/`latest` and the §5 names.
DELIVERY = {0: "reliable", 1: "latest"}
DELIVERY_CODES = {v: k for k, v in DELIVERY.items()}

# §4.3
ACK_STATUS = {0: "OK", 1: "DUPLICATE", 2: "RESYNC"}
ACK_STATUS_CODES = {v: k for k, v in ACK_STATUS.items()}

GEO_SCALE = 10_000_000
GEO_LAT_MAX = 900_000_000
GEO_LON_MAX = 1_800_000_000

MAX_STRING = 255
MAX_SENSORS = 64
MAX_READINGS = 255
MAX_CONFIG_LIST = 64
MAX_SACK = 8


# ---------------------------------------------------------------- reader


class _Reader:
    """Reads fields from data[pos:end]; every error carries the field's offset."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def need(self, n: int, at: int | None = None) -> None:
        if self.pos + n > self.end:
            raise ProtocolError("TRUNCATED", self.pos if at is None else at)

    def u8(self) -> int:
        self.need(1)
        b = self.data[self.pos]
        self.pos += 1
        return b

    def fixed(self, n: int) -> bytes:
        self.need(n)
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u32(self) -> int:
        return struct.unpack(">I", self.fixed(4))[0]

    def u48(self) -> int:
        b = self.fixed(6)
        # §1: value = first two bytes x 2^32 + last four bytes
        return (b[0] << 8 | b[1]) * (1 << 32) + struct.unpack(">I", b[2:])[0]

    def varint(self) -> int:
        start = self.pos
        value, n = read_varint(self.data, start, self.end)
        self.pos = start + n
        return value

    def string_bytes(self) -> tuple[int, bytes]:
        """A §1 string or bytes value: returns (offset of its length field, content)."""
        start = self.pos
        n = self.varint()
        if n > MAX_STRING:
            raise ProtocolError("STRING_TOO_LONG", start)
        # VECTOR-DRIVEN (invalid.json `string-length-past-end`): when the
        # content bytes run past the end, TRUNCATED is reported at the offset
        # of the first content byte, not at the string's length field.
        content = self.fixed(n)
        return start, content

    def utf8(self) -> str:
        start, content = self.string_bytes()
        try:
            # Python's strict UTF-8 decoder refuses over-long forms,
            # encoded surrogates and code points over U+10FFFF.
            return content.decode("utf-8", "strict")
        except UnicodeDecodeError:
            raise ProtocolError("BAD_UTF8", start) from None


def read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Reads a §1 varint at data[pos:end]. Returns (value, number of bytes).

    Errors are reported at `pos`, the first byte of the varint.
    """
    value = 0
    for i in range(5):
        if pos + i >= end:
            raise ProtocolError("TRUNCATED", pos)
        b = data[pos + i]
        if i == 4:
            if b & 0x80:
                # SPEC-GAP: a 5th byte with the continuation bit means "more
                # than 5 bytes"; refused here without waiting for a 6th byte
                # (so a message that ends right after it is BAD_VARINT, not
                # TRUNCATED).
                raise ProtocolError("BAD_VARINT", pos, "more than 5 bytes")
            if b > 0x0F:
                raise ProtocolError("BAD_VARINT", pos, "over 2^32-1")
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if i > 0 and b == 0:
                raise ProtocolError("BAD_VARINT", pos, "not minimal")
            return value, i + 1
    raise AssertionError("unreachable")


def encode_varint(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > U32_MAX:
        raise ProtocolError("BAD_VALUE", 0, f"varint out of range: {value!r}")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


# ---------------------------------------------------------------- JSON form of floats


def float_to_json(x: float) -> Any:
    """§14: floats JSON cannot hold become "-0", "Infinity", "-Infinity", "NaN"."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0 and math.copysign(1.0, x) < 0:
        return "-0"
    # SPEC-GAP §14: a float32 is written as the binary64 number it widens to
    # (not as the shortest decimal that round-trips through binary32); the
    # vectors only hold float32 values that are exact in both.
    return x


def float_from_json(v: Any) -> float:
    if isinstance(v, bool):
        raise ProtocolError("BAD_VALUE", 0, "bool where a float was expected")
    if isinstance(v, (int, float)):
        return float(v)
    if v == "-0":
        return -0.0
    if v == "Infinity":
        return math.inf
    if v == "-Infinity":
        return -math.inf
    if v == "NaN":
        return math.nan
    raise ProtocolError("BAD_VALUE", 0, f"not a float: {v!r}")


# ---------------------------------------------------------------- decode


def decode(data: bytes, max_message_size: int = TCP_MAX_MESSAGE) -> dict[str, Any]:
    """Decodes one message (without TCP prefix) to its §14 JSON form.

    The tag, if any, is returned as hex but not verified (§3: "The tag is
    checked after the message decodes"); see verify_tag().
    """
    data = bytes(data)
    n = len(data)
    # §3 order of checks
    # (1) size against the transport's limit
    if n > max_message_size:
        raise ProtocolError("MESSAGE_TOO_LARGE", 0)
    r = _Reader(data, 0, n)
    # (2) version, (3) type - both from byte 0, before the flags are read.
    # SPEC-GAP: for a 1-byte message with a bad version or type, the version /
    # type error wins over TRUNCATED for the missing flags (order of checks).
    vt = r.u8()
    if vt >> 4 != VERSION:
        raise ProtocolError("UNSUPPORTED_VERSION", 0)
    mtype = vt & 0x0F
    if mtype not in MESSAGE_TYPES:
        raise ProtocolError("UNKNOWN_TYPE", 0)
    name = MESSAGE_TYPES[mtype]
    # (4) flags
    flags = r.u8()
    if flags & FLAG_RESERVED:
        raise ProtocolError("BAD_FLAGS", 1)
    if flags & FLAG_CONFIG and name != "ACK":
        raise ProtocolError("BAD_FLAGS", 1)
    # (5) device id and seq.  SPEC-GAP: §3 gives device id and seq the ranges
    # 1..2^32-1 (0 = none) but names no error for seq 0; only the varint
    # itself is checked here.  The header is read against the whole message
    # (tag bytes included), since check (6) comes after it.
    device_id = r.varint()
    seq = r.varint()
    header_end = r.pos
    body_end = n
    tag = None
    # (6) with AUTH, at least 8 bytes after the header
    if flags & FLAG_AUTH:
        if n - header_end < TAG_SIZE:
            # VECTOR-DRIVEN (invalid.json `auth-too-short`): reported at the
            # end of the header; the text does not say where.
            raise ProtocolError("TRUNCATED", header_end)
        body_end = n - TAG_SIZE
        tag = data[body_end:]
    r.end = body_end

    msg: dict[str, Any] = {"type": name, "deviceId": device_id, "seq": seq}
    if flags & FLAG_RELIABLE and name != "ACK":
        msg["reliable"] = True
    if tag is not None:
        msg["tag"] = tag.hex()

    # (7) the body, field by field
    if name == "HELLO":
        _decode_hello(r, msg)
    elif name == "READINGS":
        _decode_readings(r, msg)
    elif name == "ACK":
        _decode_ack(r, msg, flags)
    elif name == "CONFIG":
        msg.update(_decode_config(r))
    elif name == "ERROR":
        msg["code"] = r.u8()
        msg["refSeq"] = r.varint()
        msg["text"] = r.utf8()
    elif name == "PING":
        pass
    elif name == "PONG":
        msg["pingSeq"] = r.varint()
    elif name == "BYE":
        # SPEC-GAP §14: reason is written as its number (the vectors do so).
        msg["reason"] = r.u8()

    # (8) the body ends exactly where the tag begins / the message ends
    if r.pos != body_end:
        raise ProtocolError("TRAILING_BYTES", r.pos)
    # Key order follows §14 (tag right after the header fields); the vectors
    # write "tag" last, which JSON comparison ignores.
    return msg


def _decode_hello(r: _Reader, msg: dict[str, Any]) -> None:
    msg["session"] = r.u32()
    msg["resumeSeq"] = r.varint()
    msg["intervalMs"] = r.varint()
    # SPEC-GAP: §4.1 says unit and name "may be empty" but is silent on model
    # and firmware; they are accepted empty here (no error code would fit).
    msg["model"] = r.utf8()
    msg["firmware"] = r.utf8()
    at = r.pos
    count = r.varint()
    if count < 1 or count > MAX_SENSORS:
        raise ProtocolError("BAD_COUNT", at)
    seen: set[int] = set()
    sensors = []
    for _ in range(count):
        at = r.pos
        sid = r.u8()
        if sid in seen:
            raise ProtocolError("BAD_SENSOR", at)
        seen.add(sid)
        at = r.pos
        vt = r.u8()
        if vt not in VALUE_TYPES:
            raise ProtocolError("UNKNOWN_VALUE_TYPE", at)
        at = r.pos
        dc = r.u8()
        if dc not in DELIVERY:
            raise ProtocolError("BAD_VALUE", at)
        unit = r.utf8()
        sname = r.utf8()
        sensors.append(
            {"id": sid, "type": VALUE_TYPES[vt], "delivery": DELIVERY[dc], "unit": unit, "name": sname}
        )
    msg["sensors"] = sensors


def _decode_readings(r: _Reader, msg: dict[str, Any]) -> None:
    msg["baseTime"] = r.u48()
    at = r.pos
    count = r.varint()
    if count < 1 or count > MAX_READINGS:
        raise ProtocolError("BAD_COUNT", at)
    readings = []
    for _ in range(count):
        sensor = r.u8()
        at = r.pos
        vt = r.u8()
        if vt not in VALUE_TYPES:
            raise ProtocolError("UNKNOWN_VALUE_TYPE", at)
        delta = r.varint()
        tname = VALUE_TYPES[vt]
        value = _decode_value(r, tname)
        readings.append({"sensor": sensor, "delta": delta, "type": tname, "value": value})
    msg["readings"] = readings


def _decode_value(r: _Reader, tname: str) -> Any:
    at = r.pos
    if tname == "bool":
        b = r.u8()
        if b > 1:
            raise ProtocolError("BAD_VALUE", at)
        return b == 1
    if tname in INT_FORMATS:
        fmt, size = INT_FORMATS[tname]
        v = struct.unpack(fmt, r.fixed(size))[0]
        return str(v) if tname in STRING_INT_TYPES else v
    if tname == "float32":
        return float_to_json(struct.unpack(">f", r.fixed(4))[0])
    if tname == "float64":
        return float_to_json(struct.unpack(">d", r.fixed(8))[0])
    if tname == "string":
        return r.utf8()
    if tname == "bytes":
        return r.string_bytes()[1].hex()
    if tname == "geo":
        # SPEC-GAP: the geo value is read whole (8 bytes) before either half is
        # range-checked, and a bad longitude is reported, like a bad latitude,
        # at the offset of the value (the §5 table makes the pair one field).
        lat, lon = struct.unpack(">ii", r.fixed(8))
        if abs(lat) > GEO_LAT_MAX or abs(lon) > GEO_LON_MAX:
            raise ProtocolError("BAD_VALUE", at)
        # SPEC-GAP §14 "in degrees": computed as integer / 10^7 (one correctly
        # rounded division), which gives the same binary64 as reading the
        # decimal text "40.4167754"; integer * 1e-7 would not always.
        return {"lat": lat / GEO_SCALE, "lon": lon / GEO_SCALE}
    raise AssertionError(tname)


def _decode_ack(r: _Reader, msg: dict[str, Any], flags: int) -> None:
    at = r.pos
    status = r.u8()
    if status not in ACK_STATUS:
        raise ProtocolError("BAD_VALUE", at)
    msg["status"] = ACK_STATUS[status]
    ack_seq = r.varint()
    msg["ackSeq"] = ack_seq
    msg["rxTime"] = r.u48()
    msg["holdUs"] = r.varint()
    if flags & FLAG_RELIABLE:
        epoch = r.u32()
        window = r.varint()
        at = r.pos
        count = r.u8()
        if count > MAX_SACK:
            raise ProtocolError("BAD_SACK", at)
        sack = []
        previous = ack_seq
        for _ in range(count):
            at_gap = r.pos
            gap = r.varint()
            if gap < 2:
                raise ProtocolError("BAD_SACK", at_gap)
            first = previous + gap
            if first > U32_MAX:
                # SPEC-GAP: offset of a range past 2^32-1 is not given; the
                # field that pushed it past is reported (here the gap).
                raise ProtocolError("BAD_SACK", at_gap)
            at_extra = r.pos
            extra = r.varint()
            last = first + extra
            if last > U32_MAX:
                raise ProtocolError("BAD_SACK", at_extra)
            sack.append({"first": first, "last": last})
            previous = last
        msg["rudp"] = {"epoch": epoch, "window": window, "sack": sack}
    if flags & FLAG_CONFIG:
        msg["config"] = _decode_config(r)


def _decode_config(r: _Reader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["configId"] = r.varint()
    out["intervalMs"] = r.varint()
    seen: set[int] = set()
    for key in ("enable", "disable"):
        at = r.pos
        count = r.u8()
        if count > MAX_CONFIG_LIST:
            raise ProtocolError("BAD_COUNT", at)
        ids = []
        for _ in range(count):
            at = r.pos
            sid = r.u8()
            if sid in seen:
                raise ProtocolError("BAD_SENSOR", at)
            seen.add(sid)
            ids.append(sid)
        out[key] = ids
    return out


# ---------------------------------------------------------------- tags


def compute_tag(message_without_tag: bytes, key: bytes, session: int) -> bytes:
    """§8: the first 8 bytes of HMAC-SHA-256(key, session as u32 BE + message bytes before the tag)."""
    data = int(session).to_bytes(4, "big") + bytes(message_without_tag)
    return hmac.new(bytes(key), data, hashlib.sha256).digest()[:TAG_SIZE]


def verify_tag(data: bytes, key: bytes, session: int) -> bool:
    """True if `data` (a whole message with AUTH set) carries a correct tag."""
    data = bytes(data)
    if len(data) < 2 or not data[1] & FLAG_AUTH or len(data) < TAG_SIZE:
        return False
    return hmac.compare_digest(compute_tag(data[:-TAG_SIZE], key, session), data[-TAG_SIZE:])


# ---------------------------------------------------------------- encode


class _Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def fail(self, code: str, detail: str) -> ProtocolError:
        return ProtocolError(code, len(self.buf), detail)

    def uint(self, v: Any, size: int, what: str) -> None:
        if not _is_int(v) or v < 0 or v >= 1 << (8 * size):
            raise self.fail("BAD_VALUE", f"{what} does not fit u{8 * size}: {v!r}")
        self.buf += v.to_bytes(size, "big")

    def varint(self, v: Any, what: str) -> None:
        if not _is_int(v) or v < 0 or v > U32_MAX:
            raise self.fail("BAD_VALUE", f"{what} does not fit a varint: {v!r}")
        self.buf += encode_varint(v)

    def raw_string(self, content: bytes, what: str) -> None:
        if len(content) > MAX_STRING:
            raise self.fail("STRING_TOO_LONG", f"{what}: {len(content)} bytes")
        self.buf += encode_varint(len(content)) + content

    def utf8(self, s: Any, what: str) -> None:
        if not isinstance(s, str):
            raise self.fail("BAD_VALUE", f"{what} is not a string")
        try:
            content = s.encode("utf-8", "strict")
        except UnicodeEncodeError:  # lone surrogates
            raise self.fail("BAD_UTF8", what) from None
        self.raw_string(content, what)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_from_json(v: Any, what: str) -> int:
    if _is_int(v):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v, 10)
        except ValueError:
            pass
    raise ProtocolError("BAD_VALUE", 0, f"{what}: not an integer: {v!r}")


def encode(message: dict[str, Any], key: bytes | str | None = None, session: int | None = None) -> bytes:
    """Encodes a §14 JSON-form message.

    With `key` (bytes or hex string) the AUTH flag is set and the tag is the
    truncated HMAC over `session` and the message (a HELLO's own session when
    `session` is None). Without a key, a message that carries a "tag" (hex) is
    encoded with AUTH and that tag copied verbatim (so a decoded message
    re-encodes byte for byte).
    """
    if isinstance(key, str):
        key = bytes.fromhex(key)
    name = message.get("type")
    if name not in MESSAGE_TYPE_CODES:
        raise ProtocolError("UNKNOWN_TYPE", 0, f"type {name!r}")
    w = _Writer()
    flags = 0
    if key is not None or "tag" in message:
        flags |= FLAG_AUTH
    if name == "ACK":
        if message.get("rudp") is not None:
            flags |= FLAG_RELIABLE
        if message.get("config") is not None:
            flags |= FLAG_CONFIG
    elif message.get("reliable"):
        flags |= FLAG_RELIABLE
    w.buf.append(VERSION << 4 | MESSAGE_TYPE_CODES[name])
    w.buf.append(flags)
    w.varint(message.get("deviceId"), "deviceId")
    w.varint(message.get("seq"), "seq")

    if name == "HELLO":
        _encode_hello(w, message)
    elif name == "READINGS":
        _encode_readings(w, message)
    elif name == "ACK":
        _encode_ack(w, message)
    elif name == "CONFIG":
        _encode_config(w, message)
    elif name == "ERROR":
        w.uint(message.get("code"), 1, "code")
        w.varint(message.get("refSeq"), "refSeq")
        w.utf8(message.get("text"), "text")
    elif name == "PING":
        pass
    elif name == "PONG":
        w.varint(message.get("pingSeq"), "pingSeq")
    elif name == "BYE":
        w.uint(message.get("reason"), 1, "reason")

    if flags & FLAG_AUTH:
        if key is not None:
            if name == "HELLO":
                session = message.get("session")
            if session is None:
                raise ProtocolError("BAD_VALUE", 0, "a tag binds a session: give session=")
            w.buf += compute_tag(bytes(w.buf), key, session)
        else:
            tag = bytes.fromhex(message["tag"])
            if len(tag) != TAG_SIZE:
                raise w.fail("BAD_VALUE", "tag is not 8 bytes")
            w.buf += tag
    if len(w.buf) > TCP_MAX_MESSAGE:
        raise ProtocolError("MESSAGE_TOO_LARGE", 0, f"{len(w.buf)} bytes")
    return bytes(w.buf)


def _encode_hello(w: _Writer, m: dict[str, Any]) -> None:
    w.uint(m.get("session"), 4, "session")
    w.varint(m.get("resumeSeq"), "resumeSeq")
    w.varint(m.get("intervalMs"), "intervalMs")
    w.utf8(m.get("model"), "model")
    w.utf8(m.get("firmware"), "firmware")
    sensors = m.get("sensors") or []
    if not 1 <= len(sensors) <= MAX_SENSORS:
        raise w.fail("BAD_COUNT", f"{len(sensors)} sensors")
    w.varint(len(sensors), "sensor count")
    seen: set[int] = set()
    for s in sensors:
        sid = s.get("id")
        if sid in seen:
            raise w.fail("BAD_SENSOR", f"sensor {sid} twice")
        w.uint(sid, 1, "sensor id")
        seen.add(sid)
        if s.get("type") not in VALUE_TYPE_CODES:
            raise w.fail("UNKNOWN_VALUE_TYPE", repr(s.get("type")))
        w.buf.append(VALUE_TYPE_CODES[s["type"]])
        if s.get("delivery") not in DELIVERY_CODES:
            raise w.fail("BAD_VALUE", f"delivery {s.get('delivery')!r}")
        w.buf.append(DELIVERY_CODES[s["delivery"]])
        w.utf8(s.get("unit"), "unit")
        w.utf8(s.get("name"), "name")


def _encode_readings(w: _Writer, m: dict[str, Any]) -> None:
    w.uint(m.get("baseTime"), 6, "baseTime")
    readings = m.get("readings") or []
    if not 1 <= len(readings) <= MAX_READINGS:
        raise w.fail("BAD_COUNT", f"{len(readings)} readings")
    w.varint(len(readings), "count")
    for rd in readings:
        w.uint(rd.get("sensor"), 1, "sensor")
        tname = rd.get("type")
        if tname not in VALUE_TYPE_CODES:
            raise w.fail("UNKNOWN_VALUE_TYPE", repr(tname))
        w.buf.append(VALUE_TYPE_CODES[tname])
        w.varint(rd.get("delta"), "delta")
        _encode_value(w, tname, rd.get("value"))


def _encode_value(w: _Writer, tname: str, v: Any) -> None:
    if tname == "bool":
        if not isinstance(v, bool):
            raise w.fail("BAD_VALUE", f"bool value {v!r}")
        w.buf.append(1 if v else 0)
    elif tname in INT_FORMATS:
        fmt, _size = INT_FORMATS[tname]
        iv = _int_from_json(v, tname)
        try:
            w.buf += struct.pack(fmt, iv)
        except struct.error:
            raise w.fail("BAD_VALUE", f"{iv} does not fit {tname}") from None
    elif tname == "float32":
        f = float_from_json(v)
        try:
            w.buf += struct.pack(">f", f)
        except OverflowError:
            # SPEC-GAP: a finite binary64 beyond the binary32 range is refused
            # as "a number that does not fit its type" rather than rounded to
            # infinity; the spec does not say which.
            raise w.fail("BAD_VALUE", f"{f!r} does not fit float32") from None
    elif tname == "float64":
        # SPEC-GAP: "NaN" is written as the default quiet NaN
        # (7ff8000000000000 / 7fc00000); the spec names no bit pattern.
        w.buf += struct.pack(">d", float_from_json(v))
    elif tname == "string":
        w.utf8(v, "string value")
    elif tname == "bytes":
        if not isinstance(v, str):
            raise w.fail("BAD_VALUE", "bytes value is not a hex string")
        try:
            content = bytes.fromhex(v)
        except ValueError:
            raise w.fail("BAD_VALUE", "bytes value is not hex") from None
        w.raw_string(content, "bytes value")
    elif tname == "geo":
        if not isinstance(v, dict):
            raise w.fail("BAD_VALUE", "geo value is not an object")
        lat = _geo_units(w, v.get("lat"))
        lon = _geo_units(w, v.get("lon"))
        if abs(lat) > GEO_LAT_MAX or abs(lon) > GEO_LON_MAX:
            raise w.fail("BAD_VALUE", f"geo out of range: {v!r}")
        w.buf += struct.pack(">ii", lat, lon)
    else:
        raise AssertionError(tname)


def _geo_units(w: _Writer, deg: Any) -> int:
    if isinstance(deg, bool) or not isinstance(deg, (int, float)) or not math.isfinite(deg):
        raise w.fail("BAD_VALUE", f"geo coordinate {deg!r}")
    # §5 "An encoder rounds a geographic position to the nearest 10^-7
    # degree".  SPEC-GAP: ties are not specified; this rounds half away from
    # zero, computed on the decimal value of the binary64 to avoid the error of
    # a binary multiplication.
    return int((Decimal(deg) * GEO_SCALE).to_integral_value(rounding=ROUND_HALF_UP))


def _encode_ack(w: _Writer, m: dict[str, Any]) -> None:
    status = m.get("status")
    if status not in ACK_STATUS_CODES:
        raise w.fail("BAD_VALUE", f"status {status!r}")
    w.buf.append(ACK_STATUS_CODES[status])
    ack_seq = m.get("ackSeq")
    w.varint(ack_seq, "ackSeq")
    w.uint(m.get("rxTime"), 6, "rxTime")
    w.varint(m.get("holdUs"), "holdUs")
    rudp = m.get("rudp")
    if rudp is not None:
        w.uint(rudp.get("epoch"), 4, "epoch")
        w.varint(rudp.get("window"), "window")
        sack = rudp.get("sack") or []
        if len(sack) > MAX_SACK:
            raise w.fail("BAD_SACK", f"{len(sack)} ranges")
        w.buf.append(len(sack))
        previous = ack_seq
        for rng in sack:
            first, last = rng.get("first"), rng.get("last")
            if not (_is_int(first) and _is_int(last)):
                raise w.fail("BAD_SACK", repr(rng))
            gap = first - previous
            extra = last - first
            if gap < 2 or extra < 0 or last > U32_MAX:
                raise w.fail("BAD_SACK", repr(rng))
            w.varint(gap, "gap")
            w.varint(extra, "extra")
            previous = last
    config = m.get("config")
    if config is not None:
        _encode_config(w, config)


def _encode_config(w: _Writer, m: dict[str, Any]) -> None:
    w.varint(m.get("configId"), "configId")
    w.varint(m.get("intervalMs"), "intervalMs")
    seen: set[int] = set()
    for key in ("enable", "disable"):
        ids = m.get(key) or []
        if len(ids) > MAX_CONFIG_LIST:
            raise w.fail("BAD_COUNT", f"{key}: {len(ids)} ids")
        w.buf.append(len(ids))
        for sid in ids:
            if sid in seen:
                raise w.fail("BAD_SENSOR", f"sensor {sid} twice")
            w.uint(sid, 1, "sensor id")
            seen.add(sid)


# ---------------------------------------------------------------- TCP framing


def frame(message_bytes: bytes) -> bytes:
    """§2: a varint length prefix, then the message."""
    n = len(message_bytes)
    if n == 0:
        raise ProtocolError("TRUNCATED", 0, "empty message")
    if n > TCP_MAX_MESSAGE:
        raise ProtocolError("MESSAGE_TOO_LARGE", 0, f"{n} bytes")
    return encode_varint(n) + bytes(message_bytes)


class StreamDecoder:
    """Takes TCP chunks, returns whole messages (without their prefix).

    feed(chunk) returns every whole message the bytes so far complete, in
    order. When a bad length prefix is found, the messages before it are
    still returned by that feed() call, `self.error` is set to a
    ProtocolError whose offset is the stream offset of the prefix's first
    byte, and every later feed() raises that error: a bad prefix leaves the
    stream without a way to find the next message (§2).

    A prefix is refused as soon as it is complete (or as soon as it is known
    to be invalid, e.g. a 5th byte with the continuation bit), before any of
    the announced bytes are awaited or buffered.
    """

    def __init__(self, max_message_size: int = TCP_MAX_MESSAGE) -> None:
        self.max_message_size = max_message_size
        self.error: ProtocolError | None = None
        self._buf = bytearray()  # unconsumed bytes: a partial prefix, or prefix + partial message
        self._buf_offset = 0  # stream offset of _buf[0]
        self._need: int | None = None  # length of the message being collected, once its prefix is read
        self._prefix_len = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        if self.error is not None:
            raise self.error
        self._buf += chunk
        out: list[bytes] = []
        while True:
            if self._need is None:
                try:
                    length, plen = read_varint(self._buf, 0, len(self._buf))
                except ProtocolError as e:
                    if e.code_name == "TRUNCATED":
                        break  # prefix not complete yet
                    self._fail(e.code_name)
                    return out
                if length == 0:
                    self._fail("TRUNCATED")
                    return out
                if length > self.max_message_size:
                    self._fail("MESSAGE_TOO_LARGE")
                    return out
                self._need = length
                self._prefix_len = plen
            total = self._prefix_len + self._need
            if len(self._buf) < total:
                break
            out.append(bytes(self._buf[self._prefix_len : total]))
            del self._buf[:total]
            self._buf_offset += total
            self._need = None
        return out

    def _fail(self, code: str) -> None:
        self.error = ProtocolError(code, self._buf_offset, "bad TCP length prefix")
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes held for an unfinished message (at most the prefix + 16384)."""
        return len(self._buf)

-- sensorwire.lua: a Wireshark / tshark dissector for the sensorwire protocol, version 1.
--
-- PROTOCOL.md in the sensorwire repository is the contract this follows field by field: the
-- header with its flags, HELLO and its sensor catalogue, READINGS with all fifteen value types,
-- ACK with the rudp fields, selective ranges and a piggybacked CONFIG, CONFIG, ERROR with code
-- names, PING, PONG, BYE, and the authentication tag. Malformed messages are reported the way
-- the reference decoder reports them (the same error name and offset, the same order of checks)
-- as expert info and as the field sensorwire.malformed.
--
-- TCP: every message has a varint length prefix; messages split across segments are
-- reassembled (TCP's "allow subdissector to reassemble" preference, on by default). UDP: one
-- message per datagram. Registered on port 7878 (TCP and UDP), and as a heuristic dissector on
-- every other port: a packet is taken when its first message has version 1, a known type,
-- reserved flags zero and sane lengths, and (when all of it is there) decodes without error.
--
-- Install: copy to the personal Lua plugins folder (Wireshark: Help > About > Folders), or
-- run tshark -X lua_script:sensorwire.lua. See README.md beside this file.
--
-- Written for and tested with Wireshark 4.0 (Lua 5.2); uses no bit library.

local sw = Proto("sensorwire", "sensorwire")

local PORT = 7878
local MAX_TCP_MESSAGE = 16384
local MAX_UDP_MESSAGE = 1200
local TAG_LENGTH = 8
local MAX_VARINT = 4294967295

-- Names --------------------------------------------------------------------------------------

local message_types = {
  [1] = "HELLO", [2] = "READINGS", [3] = "ACK", [4] = "CONFIG",
  [5] = "ERROR", [6] = "PING", [7] = "PONG", [8] = "BYE",
}
local value_types = {
  [0x01] = "bool", [0x02] = "int8", [0x03] = "int16", [0x04] = "int32", [0x05] = "int64",
  [0x06] = "uint8", [0x07] = "uint16", [0x08] = "uint32", [0x09] = "uint64",
  [0x0a] = "float32", [0x0b] = "float64", [0x0c] = "string", [0x0d] = "bytes",
  [0x0e] = "timestamp", [0x0f] = "geo",
}
local fixed_sizes = {
  bool = 1, int8 = 1, int16 = 2, int32 = 4, int64 = 8, uint8 = 1, uint16 = 2, uint32 = 4,
  uint64 = 8, float32 = 4, float64 = 8, timestamp = 8, geo = 8,
}
local delivery_classes = { [0] = "reliable", [1] = "latest" }
local ack_statuses = { [0] = "OK", [1] = "DUPLICATE", [2] = "RESYNC" }
local bye_reasons = { [0] = "normal shutdown", [1] = "restarting", [2] = "low battery" }
local error_codes = {
  [1] = "TRUNCATED", [2] = "TRAILING_BYTES", [3] = "UNSUPPORTED_VERSION", [4] = "UNKNOWN_TYPE",
  [5] = "BAD_FLAGS", [6] = "BAD_VARINT", [7] = "BAD_VALUE", [8] = "UNKNOWN_VALUE_TYPE",
  [9] = "BAD_UTF8", [10] = "STRING_TOO_LONG", [11] = "BAD_COUNT", [12] = "MESSAGE_TOO_LARGE",
  [13] = "BAD_SENSOR", [14] = "BAD_SACK",
  [32] = "BAD_TAG", [33] = "REPLAY", [34] = "UNKNOWN_DEVICE", [35] = "UNKNOWN_SENSOR",
  [36] = "UNEXPECTED", [37] = "STORAGE", [38] = "BUSY", [39] = "IDLE_TIMEOUT", [40] = "GAVE_UP",
}

-- Fields -------------------------------------------------------------------------------------

local f = {
  message = ProtoField.none("sensorwire.message", "Message"),
  length = ProtoField.uint32("sensorwire.length", "Length prefix", base.DEC),
  version = ProtoField.uint8("sensorwire.version", "Version", base.DEC, nil, 0xf0),
  type = ProtoField.uint8("sensorwire.type", "Type", base.DEC, message_types, 0x0f),
  flags = ProtoField.uint8("sensorwire.flags", "Flags", base.HEX),
  flag_auth = ProtoField.bool("sensorwire.flags.auth", "AUTH", 8, nil, 0x01),
  flag_reliable = ProtoField.bool("sensorwire.flags.reliable", "RELIABLE", 8, nil, 0x02),
  flag_config = ProtoField.bool("sensorwire.flags.config", "CONFIG", 8, nil, 0x04),
  flag_reserved = ProtoField.uint8("sensorwire.flags.reserved", "Reserved", base.HEX, nil, 0xf8),
  device_id = ProtoField.uint32("sensorwire.device_id", "Device id", base.DEC),
  seq = ProtoField.uint32("sensorwire.seq", "Sequence number", base.DEC),
  tag = ProtoField.bytes("sensorwire.tag", "Authentication tag"),
  string_length = ProtoField.uint32("sensorwire.string_length", "Length", base.DEC),

  -- HELLO
  session = ProtoField.uint32("sensorwire.hello.session", "Session", base.DEC),
  resume_seq = ProtoField.uint32("sensorwire.hello.resume_seq", "Resume seq", base.DEC),
  interval = ProtoField.uint32("sensorwire.hello.interval", "Interval (ms)", base.DEC),
  model = ProtoField.string("sensorwire.hello.model", "Model", base.UNICODE),
  firmware = ProtoField.string("sensorwire.hello.firmware", "Firmware", base.UNICODE),
  sensor_count = ProtoField.uint32("sensorwire.hello.sensor_count", "Sensor count", base.DEC),
  sensor = ProtoField.none("sensorwire.sensor", "Sensor"),
  sensor_id = ProtoField.uint8("sensorwire.sensor.id", "Sensor id", base.DEC),
  sensor_type = ProtoField.uint8("sensorwire.sensor.type", "Value type", base.HEX, value_types),
  sensor_delivery = ProtoField.uint8("sensorwire.sensor.delivery", "Delivery class", base.DEC, delivery_classes),
  sensor_unit = ProtoField.string("sensorwire.sensor.unit", "Unit", base.UNICODE),
  sensor_name = ProtoField.string("sensorwire.sensor.name", "Name", base.UNICODE),

  -- READINGS
  base_time = ProtoField.uint64("sensorwire.readings.base_time", "Base time (ms since 1970)", base.DEC),
  base_time_utc = ProtoField.absolute_time("sensorwire.readings.base_time_utc", "Base time", base.UTC),
  reading_count = ProtoField.uint32("sensorwire.readings.count", "Reading count", base.DEC),
  reading = ProtoField.none("sensorwire.reading", "Reading"),
  reading_sensor = ProtoField.uint8("sensorwire.reading.sensor", "Sensor id", base.DEC),
  reading_type = ProtoField.uint8("sensorwire.reading.type", "Value type", base.HEX, value_types),
  reading_delta = ProtoField.uint32("sensorwire.reading.delta", "Delta (ms)", base.DEC),
  reading_value = ProtoField.string("sensorwire.reading.value", "Value", base.UNICODE),
  v_bool = ProtoField.bool("sensorwire.reading.bool", "bool value"),
  v_int8 = ProtoField.int8("sensorwire.reading.int8", "int8 value", base.DEC),
  v_int16 = ProtoField.int16("sensorwire.reading.int16", "int16 value", base.DEC),
  v_int32 = ProtoField.int32("sensorwire.reading.int32", "int32 value", base.DEC),
  v_int64 = ProtoField.int64("sensorwire.reading.int64", "int64 value", base.DEC),
  v_uint8 = ProtoField.uint8("sensorwire.reading.uint8", "uint8 value", base.DEC),
  v_uint16 = ProtoField.uint16("sensorwire.reading.uint16", "uint16 value", base.DEC),
  v_uint32 = ProtoField.uint32("sensorwire.reading.uint32", "uint32 value", base.DEC),
  v_uint64 = ProtoField.uint64("sensorwire.reading.uint64", "uint64 value", base.DEC),
  v_float32 = ProtoField.float("sensorwire.reading.float32", "float32 value"),
  v_float64 = ProtoField.double("sensorwire.reading.float64", "float64 value"),
  v_string = ProtoField.string("sensorwire.reading.string", "string value", base.UNICODE),
  v_bytes = ProtoField.bytes("sensorwire.reading.bytes", "bytes value"),
  v_timestamp = ProtoField.int64("sensorwire.reading.timestamp", "timestamp value (µs since 1970)", base.DEC),
  v_lat = ProtoField.double("sensorwire.reading.geo.lat", "Latitude (degrees)"),
  v_lon = ProtoField.double("sensorwire.reading.geo.lon", "Longitude (degrees)"),

  -- ACK
  ack_status = ProtoField.uint8("sensorwire.ack.status", "Status", base.DEC, ack_statuses),
  ack_seq = ProtoField.uint32("sensorwire.ack.ack_seq", "Ack seq", base.DEC),
  rx_time = ProtoField.uint64("sensorwire.ack.rx_time", "Receive time (ms since 1970)", base.DEC),
  rx_time_utc = ProtoField.absolute_time("sensorwire.ack.rx_time_utc", "Receive time", base.UTC),
  hold = ProtoField.uint32("sensorwire.ack.hold_us", "Hold (µs)", base.DEC),
  epoch = ProtoField.uint32("sensorwire.ack.epoch", "Epoch", base.HEX_DEC),
  window = ProtoField.uint32("sensorwire.ack.window", "Window", base.DEC),
  sack_count = ProtoField.uint8("sensorwire.ack.sack_count", "Selective range count", base.DEC),
  sack = ProtoField.none("sensorwire.sack", "Selective range"),
  sack_gap = ProtoField.uint32("sensorwire.sack.gap", "Gap", base.DEC),
  sack_extra = ProtoField.uint32("sensorwire.sack.extra", "Extra", base.DEC),
  sack_first = ProtoField.uint32("sensorwire.sack.first", "First seq", base.DEC),
  sack_last = ProtoField.uint32("sensorwire.sack.last", "Last seq", base.DEC),

  -- CONFIG (alone, or on an ACK with the CONFIG flag)
  config = ProtoField.none("sensorwire.config", "Config"),
  config_id = ProtoField.uint32("sensorwire.config.id", "Config id", base.DEC),
  config_interval = ProtoField.uint32("sensorwire.config.interval", "Interval (ms, 0 = unchanged)", base.DEC),
  enable_count = ProtoField.uint8("sensorwire.config.enable_count", "Enable count", base.DEC),
  enable = ProtoField.uint8("sensorwire.config.enable", "Enable sensor", base.DEC),
  disable_count = ProtoField.uint8("sensorwire.config.disable_count", "Disable count", base.DEC),
  disable = ProtoField.uint8("sensorwire.config.disable", "Disable sensor", base.DEC),

  -- ERROR, PONG, BYE
  error_code = ProtoField.uint8("sensorwire.error.code", "Error code", base.DEC, error_codes),
  error_ref_seq = ProtoField.uint32("sensorwire.error.ref_seq", "Ref seq", base.DEC),
  error_text = ProtoField.string("sensorwire.error.text", "Text", base.UNICODE),
  ping_seq = ProtoField.uint32("sensorwire.pong.ping_seq", "Ping seq", base.DEC),
  bye_reason = ProtoField.uint8("sensorwire.bye.reason", "Reason", base.DEC, bye_reasons),

  -- Malformed input: the error name, and its offset: in the message, as the reference decoder
  -- reports it; for a bad TCP length prefix, in the (reassembled) segment data
  malformed = ProtoField.string("sensorwire.malformed", "Malformed"),
  malformed_offset = ProtoField.uint32("sensorwire.malformed.offset", "Offset", base.DEC),
}
local field_list = {}
for _, field in pairs(f) do field_list[#field_list + 1] = field end
sw.fields = field_list

local ex_malformed = ProtoExpert.new("sensorwire.malformed.expert", "Malformed sensorwire message",
  expert.group.MALFORMED, expert.severity.ERROR)
local ex_reserved = ProtoExpert.new("sensorwire.unknown_code.expert", "Value not defined in version 1",
  expert.group.UNDECODED, expert.severity.NOTE)
sw.experts = { ex_malformed, ex_reserved }

-- Helpers ------------------------------------------------------------------------------------

-- Raised (with error()) by a reader that meets a malformed field; caught per message.
local function fail(code, offset, text)
  error({ sensorwire = code, offset = offset, text = text }, 0)
end

local POW7 = { 1, 128, 16384, 2097152, 268435456 }

-- A tree that drops everything: lets the heuristic run the same code as the dissector.
local null_tree = setmetatable({}, { __index = function() return function(self) return self end end })

local function int_text(n)
  return string.format("%d", n)
end

-- A double as the shortest text that reads back as the same double ("-0", "NaN", "Infinity").
local function float_text(x)
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" end
  if x == -math.huge then return "-Infinity" end
  if x == 0 then return (1 / x < 0) and "-0" or "0" end
  if x == math.floor(x) and math.abs(x) < 1e21 then return string.format("%.0f", x) end
  for digits = 1, 17 do
    local s = string.format("%." .. digits .. "g", x)
    if tonumber(s) == x then
      return (s:gsub("e([+-])0*(%d)", "e%1%2"))
    end
  end
  return string.format("%.17g", x)
end

local function hex(raw)
  return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Strict UTF-8 (no over-long forms, no surrogates, nothing above U+10FFFF), as the decoder checks it.
local function valid_utf8(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local need, lo, hi = 0, 0x80, 0xbf
    if c < 0x80 then need = 0
    elseif c >= 0xc2 and c <= 0xdf then need = 1
    elseif c == 0xe0 then need, lo = 2, 0xa0
    elseif (c >= 0xe1 and c <= 0xec) or c == 0xee or c == 0xef then need = 2
    elseif c == 0xed then need, hi = 2, 0x9f
    elseif c == 0xf0 then need, lo = 3, 0x90
    elseif c >= 0xf1 and c <= 0xf3 then need = 3
    elseif c == 0xf4 then need, hi = 3, 0x8f
    else return false end
    if i + need > n then return false end
    for k = 1, need do
      local b = s:byte(i + k)
      if k == 1 then
        if b < lo or b > hi then return false end
      elseif b < 0x80 or b > 0xbf then
        return false
      end
    end
    i = i + need + 1
  end
  return true
end

-- A cursor over one message (a Tvb holding exactly the message), reading as PROTOCOL.md says.
local Reader = {}
Reader.__index = Reader

local function new_reader(tvb)
  return setmetatable({ tvb = tvb, pos = 0, stop = tvb:len() }, Reader)
end

function Reader:need(n)
  if self.stop - self.pos < n then
    fail("TRUNCATED", self.pos, string.format("needs %d bytes, %d left", n, self.stop - self.pos))
  end
  local at = self.pos
  self.pos = self.pos + n
  return at
end

function Reader:range(at, n)
  return self.tvb:range(at, n)
end

function Reader:u8()
  local at = self:need(1)
  return self.tvb:range(at, 1):uint(), self.tvb:range(at, 1)
end

-- Unsigned LEB128: at most 5 bytes, at most 2^32-1, minimal. Returns value, range.
function Reader:varint()
  local start = self.pos
  local value = 0
  for i = 1, 5 do
    if self.pos >= self.stop then fail("TRUNCATED", start, "varint ends early") end
    local b = self.tvb:range(self.pos, 1):uint()
    self.pos = self.pos + 1
    value = value + (b % 128) * POW7[i]
    if b < 128 then
      if b == 0 and i > 1 then fail("BAD_VARINT", start, "varint is not minimally encoded") end
      if value > MAX_VARINT then fail("BAD_VARINT", start, "varint exceeds 2^32-1") end
      return value, self.tvb:range(start, self.pos - start)
    end
  end
  fail("BAD_VARINT", start, "varint longer than 5 bytes")
end

-- A varint byte count (at most 255) and the bytes. Returns raw string, whole range, count.
function Reader:counted(utf8)
  local at = self.pos
  local n = self:varint()
  if n > 255 then fail("STRING_TOO_LONG", at, string.format("%d bytes, the limit is 255", n)) end
  local content = self:need(n)
  local raw = n > 0 and self.tvb:range(content, n):raw() or ""
  if utf8 and not valid_utf8(raw) then fail("BAD_UTF8", at, "not valid UTF-8") end
  return raw, self.tvb:range(at, self.pos - at), n
end

function Reader:string(tree, field)
  local raw, range, n = self:counted(true)
  local item = tree:add(field, range, raw)
  item:add(f.string_length, range:range(0, range:len() - n), n)
  return raw
end

-- Body parsers: each reads its fields from r and adds them to tree ----------------------------

local function add_time(tree, field, utc_field, range)
  local value = range:uint64()
  tree:add(field, range, value)
  local ms = value:tonumber()
  tree:add(utc_field, range, NSTime.new(math.floor(ms / 1000), (ms % 1000) * 1000000)):set_generated()
  return ms
end

local function parse_hello(r, tree, info)
  tree:add(f.session, r:range(r:need(4), 4))
  local resume, rr = r:varint()
  tree:add(f.resume_seq, rr, resume)
  local interval, ri = r:varint()
  tree:add(f.interval, ri, interval)
  r:string(tree, f.model)
  r:string(tree, f.firmware)
  local count_at = r.pos
  local count, rc = r:varint()
  if count < 1 or count > 64 then fail("BAD_COUNT", count_at, string.format("a catalogue holds 1 to 64 sensors, not %d", count)) end
  tree:add(f.sensor_count, rc, count)
  local seen = {}
  for i = 1, count do
    local start = r.pos
    local entry = tree:add(f.sensor, r:range(start, 0))
    entry:set_text(string.format("Sensor %d", i))
    local id, rid = r:u8()
    if seen[id] then fail("BAD_SENSOR", start, string.format("sensor id %d appears twice in the catalogue", id)) end
    seen[id] = true
    entry:add(f.sensor_id, rid)
    local type_at = r.pos
    local code, rt = r:u8()
    local vtype = value_types[code]
    if vtype == nil then fail("UNKNOWN_VALUE_TYPE", type_at, string.format("value type 0x%x is not defined", code)) end
    entry:add(f.sensor_type, rt)
    local class_at = r.pos
    local class, rd = r:u8()
    if delivery_classes[class] == nil then fail("BAD_VALUE", class_at, string.format("delivery class %d is not defined", class)) end
    entry:add(f.sensor_delivery, rd)
    local unit = r:string(entry, f.sensor_unit)
    local name = r:string(entry, f.sensor_name)
    entry:set_len(r.pos - start)
    entry:set_text(string.format("Sensor %d: id %d, %s, %s, %s [%s]", i, id, name, vtype, delivery_classes[class], unit))
  end
  info[#info + 1] = string.format("sensors=%d", count)
end

-- Reads one value of type vtype; adds the typed field and returns its text (the JSON form's).
local function parse_value(r, tree, vtype)
  local size = fixed_sizes[vtype]
  if vtype == "string" then
    local raw, range = r:counted(true)
    tree:add(f.v_string, range, raw)
    return raw, range
  elseif vtype == "bytes" then
    local raw, range, n = r:counted(false)
    if n > 0 then
      tree:add(f.v_bytes, range:range(range:len() - n, n))
    else
      tree:add(f.v_bytes, "")
    end
    return hex(raw), range
  end
  local at = r:need(size)
  local range = r:range(at, size)
  if vtype == "bool" then
    local b = range:uint()
    if b > 1 then fail("BAD_VALUE", at, string.format("bool must be 0 or 1, got %d", b)) end
    tree:add(f.v_bool, range, b == 1)
    return b == 1 and "true" or "false", range
  elseif vtype == "int8" or vtype == "int16" or vtype == "int32" then
    local v = range:int()
    tree:add(f["v_" .. vtype], range, v)
    return int_text(v), range
  elseif vtype == "uint8" or vtype == "uint16" or vtype == "uint32" then
    local v = range:uint()
    tree:add(f["v_" .. vtype], range, v)
    return int_text(v), range
  elseif vtype == "int64" or vtype == "timestamp" then
    local v = range:int64()
    tree:add(vtype == "int64" and f.v_int64 or f.v_timestamp, range, v)
    return tostring(v), range
  elseif vtype == "uint64" then
    local v = range:uint64()
    tree:add(f.v_uint64, range, v)
    return tostring(v), range
  elseif vtype == "float32" then
    local v = range:float()
    tree:add(f.v_float32, range, v)
    return float_text(v), range
  elseif vtype == "float64" then
    local v = range:float()
    tree:add(f.v_float64, range, v)
    return float_text(v), range
  else -- geo: both halves are read before either is checked
    local lat = range:range(0, 4):int()
    local lon = range:range(4, 4):int()
    if math.abs(lat) > 900000000 or math.abs(lon) > 1800000000 then
      fail("BAD_VALUE", at, string.format("position %s,%s is outside ±90,±180 degrees", float_text(lat / 1e7), float_text(lon / 1e7)))
    end
    tree:add(f.v_lat, range:range(0, 4), lat / 1e7)
    tree:add(f.v_lon, range:range(4, 4), lon / 1e7)
    return float_text(lat / 1e7) .. "," .. float_text(lon / 1e7), range
  end
end

local function parse_readings(r, tree, info)
  add_time(tree, f.base_time, f.base_time_utc, r:range(r:need(6), 6))
  local count_at = r.pos
  local count, rc = r:varint()
  if count < 1 or count > 255 then fail("BAD_COUNT", count_at, string.format("a batch holds 1 to 255 readings, not %d", count)) end
  tree:add(f.reading_count, rc, count)
  for i = 1, count do
    local start = r.pos
    local item = tree:add(f.reading, r:range(start, 0))
    item:set_text(string.format("Reading %d", i))
    local sensor, rs = r:u8()
    item:add(f.reading_sensor, rs)
    local type_at = r.pos
    local code, rt = r:u8()
    local vtype = value_types[code]
    if vtype == nil then fail("UNKNOWN_VALUE_TYPE", type_at, string.format("value type 0x%x is not defined", code)) end
    item:add(f.reading_type, rt)
    local delta, rd = r:varint()
    item:add(f.reading_delta, rd, delta)
    local text, range = parse_value(r, item, vtype)
    item:add(f.reading_value, range, text)
    item:set_len(r.pos - start)
    item:set_text(string.format("Reading %d: sensor %d, +%d ms, %s %s", i, sensor, delta, vtype, text))
  end
  info[#info + 1] = string.format("readings=%d", count)
end

local function parse_config_body(r, tree)
  local id, rid = r:varint()
  tree:add(f.config_id, rid, id)
  local interval, ri = r:varint()
  tree:add(f.config_interval, ri, interval)
  local seen = {}
  for _, list in ipairs({ { "enable", f.enable_count, f.enable }, { "disable", f.disable_count, f.disable } }) do
    local count_at = r.pos
    local count, rc = r:u8()
    if count > 64 then fail("BAD_COUNT", count_at, string.format("a CONFIG lists at most 64 sensors to %s, not %d", list[1], count)) end
    tree:add(list[2], rc)
    for _ = 1, count do
      local at = r.pos
      local sensor, rs = r:u8()
      if seen[sensor] then fail("BAD_SENSOR", at, string.format("sensor id %d appears twice in the CONFIG", sensor)) end
      seen[sensor] = true
      tree:add(list[3], rs)
    end
  end
  return id
end

local function parse_ack(r, tree, info, flags)
  local status_at = r.pos
  local status, rs = r:u8()
  if ack_statuses[status] == nil then fail("BAD_VALUE", status_at, string.format("ack status %d is not defined", status)) end
  tree:add(f.ack_status, rs)
  local ack_seq, ra = r:varint()
  tree:add(f.ack_seq, ra, ack_seq)
  add_time(tree, f.rx_time, f.rx_time_utc, r:range(r:need(6), 6))
  local hold, rh = r:varint()
  tree:add(f.hold, rh, hold)
  info[#info + 1] = string.format("%s ack=%d", ack_statuses[status], ack_seq)
  if flags.reliable then
    tree:add(f.epoch, r:range(r:need(4), 4))
    local window, rw = r:varint()
    tree:add(f.window, rw, window)
    local count_at = r.pos
    local count, rc = r:u8()
    if count > 8 then fail("BAD_SACK", count_at, string.format("an ACK carries at most 8 ranges, not %d", count)) end
    tree:add(f.sack_count, rc)
    local previous = ack_seq
    for i = 1, count do
      local at = r.pos
      local item = tree:add(f.sack, r:range(at, 0))
      local gap, rg = r:varint()
      local extra, re = r:varint()
      local first = previous + gap
      local last = first + extra
      if gap < 2 then fail("BAD_SACK", at, string.format("a sack range must start at least 2 above the previous one (gap %d)", gap)) end
      if last > MAX_VARINT then fail("BAD_SACK", at, "sack range passes 2^32-1") end
      item:add(f.sack_gap, rg, gap)
      item:add(f.sack_extra, re, extra)
      item:add(f.sack_first, r:range(at, r.pos - at), first):set_generated()
      item:add(f.sack_last, r:range(at, r.pos - at), last):set_generated()
      item:set_len(r.pos - at)
      item:set_text(string.format("Selective range %d: %d-%d", i, first, last))
      previous = last
    end
    info[#info + 1] = string.format("sack=%d", count)
  end
  if flags.config then
    local at = r.pos
    local item = tree:add(f.config, r:range(at, 0))
    local id = parse_config_body(r, item)
    item:set_len(r.pos - at)
    info[#info + 1] = string.format("+CONFIG id=%d", id)
  end
end

local function parse_body(r, tree, info, name, flags)
  if name == "HELLO" then
    parse_hello(r, tree, info)
  elseif name == "READINGS" then
    parse_readings(r, tree, info)
  elseif name == "ACK" then
    parse_ack(r, tree, info, flags)
  elseif name == "CONFIG" then
    info[#info + 1] = string.format("id=%d", parse_config_body(r, tree))
  elseif name == "ERROR" then
    local code, rc = r:u8()
    local item = tree:add(f.error_code, rc)
    if error_codes[code] == nil then item:add_proto_expert_info(ex_reserved, "error code not defined in version 1") end
    local ref, rr = r:varint()
    tree:add(f.error_ref_seq, rr, ref)
    r:string(tree, f.error_text)
    info[#info + 1] = string.format("%s ref=%d", error_codes[code] or int_text(code), ref)
  elseif name == "PONG" then
    local ping, rp = r:varint()
    tree:add(f.ping_seq, rp, ping)
    info[#info + 1] = string.format("ping=%d", ping)
  elseif name == "BYE" then
    local reason, rr = r:u8()
    tree:add(f.bye_reason, rr)
    info[#info + 1] = bye_reasons[reason] or "unspecified"
  end
  -- PING has no body.
end

-- One message: header checks in PROTOCOL.md §3's order, then the body, then the tag.
-- Returns a short summary for the Info column; raises (via fail) on the first malformed field.
local function parse_message(tvb, tree, max_size, info)
  local size = tvb:len()
  if size > max_size then fail("MESSAGE_TOO_LARGE", 0, string.format("message is %d bytes, the limit is %d", size, max_size)) end
  local r = new_reader(tvb)
  local b0 = r:u8()
  local version = math.floor(b0 / 16)
  local code = b0 % 16
  tree:add(f.version, tvb:range(0, 1))
  if version ~= 1 then fail("UNSUPPORTED_VERSION", 0, string.format("version %d is not supported", version)) end
  local name = message_types[code]
  if name == nil then fail("UNKNOWN_TYPE", 0, string.format("message type %d is not defined", code)) end
  tree:add(f.type, tvb:range(0, 1))
  info[#info + 1] = name
  local flags_value, rf = r:u8()
  local flags = {
    auth = flags_value % 2 == 1,
    reliable = math.floor(flags_value / 2) % 2 == 1,
    config = math.floor(flags_value / 4) % 2 == 1,
  }
  local flags_item = tree:add(f.flags, rf)
  flags_item:add(f.flag_auth, rf)
  flags_item:add(f.flag_reliable, rf)
  flags_item:add(f.flag_config, rf)
  flags_item:add(f.flag_reserved, rf)
  if flags_value >= 8 then fail("BAD_FLAGS", 1, string.format("reserved flag bits are set (0x%02x)", flags_value)) end
  if flags.config and name ~= "ACK" then fail("BAD_FLAGS", 1, "the CONFIG flag is only valid on ACK") end
  local device, rd = r:varint()
  tree:add(f.device_id, rd, device)
  local seq, rs = r:varint()
  tree:add(f.seq, rs, seq)
  info[#info + 1] = string.format("dev=%d seq=%d", device, seq)
  if flags.reliable then info[#info + 1] = "rudp" end
  if flags.auth then
    if r.stop - r.pos < TAG_LENGTH then fail("TRUNCATED", r.pos, "the AUTH flag is set but fewer than 8 bytes follow the header") end
    r.stop = r.stop - TAG_LENGTH
  end
  parse_body(r, tree, info, name, flags)
  if r.pos ~= r.stop then
    fail("TRAILING_BYTES", r.pos, string.format("%d bytes follow the end of the %s body", r.stop - r.pos, name))
  end
  if flags.auth then
    tree:add(f.tag, tvb:range(r.stop, TAG_LENGTH))
    info[#info + 1] = "auth"
  end
  return name
end

-- Adds the error a parse raised to the tree (and rethrows anything that is not a protocol error).
local function report_failure(problem, tvb, tree, base_offset)
  if type(problem) ~= "table" or problem.sensorwire == nil then error(problem, 0) end
  local offset = problem.offset
  local item
  if offset < tvb:len() then
    item = tree:add(f.malformed, tvb:range(offset, tvb:len() - offset), problem.sensorwire)
  else
    item = tree:add(f.malformed, problem.sensorwire)
  end
  item:add(f.malformed_offset, (base_offset or 0) + offset):set_generated()
  item:add_proto_expert_info(ex_malformed, string.format("%s at byte %d: %s", problem.sensorwire, offset, problem.text))
  return problem.sensorwire
end

-- Dissects one message held by `tvb` under `item`; returns the Info text.
local function dissect_message(tvb, item, max_size)
  local info = {}
  local ok, problem = pcall(parse_message, tvb, item, max_size, info)
  if not ok then
    local name = report_failure(problem, tvb, item)
    info[#info + 1] = "[malformed: " .. name .. "]"
  end
  local text = table.concat(info, " ")
  item:append_text(": " .. text)
  return text
end

-- Would the whole message decode? (for the heuristics)
local function decodes(tvb, max_size)
  return (pcall(parse_message, tvb, null_tree, max_size, {}))
end

-- TCP ----------------------------------------------------------------------------------------

-- The length prefix at `offset`: length, prefix bytes; or nil, "more" when it is not all there
-- yet; or nil, code, text when it is bad (which ends the stream).
local function read_prefix(tvb, offset)
  local value = 0
  for i = 1, 5 do
    if offset + i > tvb:len() then return nil, "more" end
    local b = tvb:range(offset + i - 1, 1):uint()
    value = value + (b % 128) * POW7[i]
    if b < 128 then
      if b == 0 and i > 1 then return nil, "BAD_VARINT", "frame length is not minimally encoded" end
      if value == 0 then return nil, "TRUNCATED", "frame length is 0" end
      if value > MAX_TCP_MESSAGE then
        return nil, "MESSAGE_TOO_LARGE", string.format("frame length %d exceeds the limit of %d", value, MAX_TCP_MESSAGE)
      end
      return value, i
    end
  end
  return nil, "BAD_VARINT", "frame length prefix is longer than 5 bytes"
end

local function set_columns(pinfo, infos)
  pinfo.cols.protocol = "sensorwire"
  pinfo.cols.info = table.concat(infos, " | ")
end

local function dissect_tcp(tvb, pinfo, tree)
  local total = tvb:len()
  local offset = 0
  local infos = {}
  while offset < total do
    local length, prefix, text = read_prefix(tvb, offset)
    if length == nil and prefix == "more" then
      pinfo.desegment_offset = offset
      pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
      break
    end
    if length == nil then
      local item = tree:add(sw, tvb:range(offset, total - offset))
      report_failure({ sensorwire = prefix, offset = 0, text = text }, tvb:range(offset):tvb(), item, offset)
      item:append_text(": bad length prefix, " .. prefix)
      infos[#infos + 1] = "[bad length prefix: " .. prefix .. "]"
      break
    end
    if offset + prefix + length > total then
      pinfo.desegment_offset = offset
      pinfo.desegment_len = offset + prefix + length - total
      break
    end
    local item = tree:add(sw, tvb:range(offset, prefix + length))
    item:add(f.length, tvb:range(offset, prefix), length)
    infos[#infos + 1] = dissect_message(tvb:range(offset + prefix, length):tvb(), item, MAX_TCP_MESSAGE)
    offset = offset + prefix + length
  end
  if #infos > 0 then set_columns(pinfo, infos) end
  return total
end

-- UDP ----------------------------------------------------------------------------------------

local function dissect_udp(tvb, pinfo, tree)
  local item = tree:add(sw, tvb:range(0, tvb:len()))
  set_columns(pinfo, { dissect_message(tvb, item, MAX_UDP_MESSAGE) })
  return tvb:len()
end

function sw.dissector(tvb, pinfo, tree)
  if pinfo.port_type == 2 then return dissect_tcp(tvb, pinfo, tree) end
  return dissect_udp(tvb, pinfo, tree)
end

-- Heuristics ---------------------------------------------------------------------------------

-- Version 1, a defined type, reserved flags zero, CONFIG only on ACK: the first two bytes.
local function plausible_start(tvb, offset)
  if tvb:len() < offset + 2 then return false end
  local b0 = tvb:range(offset, 1):uint()
  local flags = tvb:range(offset + 1, 1):uint()
  local code = b0 % 16
  if math.floor(b0 / 16) ~= 1 or message_types[code] == nil or flags >= 8 then return false end
  if math.floor(flags / 4) % 2 == 1 and code ~= 3 then return false end
  return true
end

local function heur_udp(tvb, pinfo, tree)
  local size = tvb:len()
  if size < 4 or size > MAX_UDP_MESSAGE or not plausible_start(tvb, 0) then return false end
  if not decodes(tvb, MAX_UDP_MESSAGE) then return false end
  pinfo.conversation = sw
  dissect_udp(tvb, pinfo, tree)
  return true
end

local function heur_tcp(tvb, pinfo, tree)
  local length, prefix = read_prefix(tvb, 0)
  if length == nil or length < 4 or not plausible_start(tvb, prefix) then return false end
  if prefix + length <= tvb:len() and not decodes(tvb:range(prefix, length):tvb(), MAX_TCP_MESSAGE) then return false end
  pinfo.conversation = sw
  dissect_tcp(tvb, pinfo, tree)
  return true
end

DissectorTable.get("tcp.port"):add(PORT, sw)
DissectorTable.get("udp.port"):add(PORT, sw)
sw:register_heuristic("tcp", heur_tcp)
sw:register_heuristic("udp", heur_udp)

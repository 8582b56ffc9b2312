-- The sync resolver as one Lua script: read, resolve and write a document atomically, so two
-- nodes pushing to one key at once never lose an update. A port of store/src/sync-resolver.ts;
-- the tests hold both to identical documents.
-- - Strings compare by bytes (`bcmp`): Lua's `<` on strings follows the locale (strcoll).
-- - User values are opaque JSON text, never decoded here.
-- - cjson encodes numbers with 14 significant digits: every stored number stays below 1e14.
--
-- KEYS[1]  the document
-- ARGV[1]  strategy ('lww' or 'vector_clock')
-- ARGV[2]  deviceId
-- ARGV[3]  ttlS
-- ARGV[4]  maxBytes
-- ARGV[5]  ts ('' = none)
-- ARGV[6]  clock JSON: what the device has seen ('' = none; vector_clock only)
-- ARGV[7..] field / value JSON text ('' = delete) pairs
--
-- Returns { 'ok', document JSON, now } or { 'too_large', bytes, now }.
--#include lib/now.lua
local function bcmp(a, b)
  if a == b then return 0 end
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      if x < y then return -1 end
      return 1
    end
  end
  if la < lb then return -1 end
  return 1
end
local function ncmp(a, b)
  if a < b then return -1 end
  if a > b then return 1 end
  return 0
end
local function vkey(v)
  if v == false then return '' end
  return v
end
local function clock_key(vc)
  if not vc then return '' end
  local keys = {}
  for k in pairs(vc) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return bcmp(a, b) < 0 end)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. ':' .. string.format('%d', vc[k]) end
  return table.concat(parts, ',')
end
local function cmp_lww(a, b)
  local r = ncmp(a.w, b.w)
  if r == 0 then r = ncmp(a.c, b.c) end
  if r == 0 then r = bcmp(a.d, b.d) end
  if r == 0 then r = bcmp(vkey(a.v), vkey(b.v)) end
  return r
end
local function cmp_vector(a, b)
  local r = bcmp(a.d, b.d)
  if r == 0 then r = bcmp(vkey(a.v), vkey(b.v)) end
  if r == 0 then r = ncmp(a.w, b.w) end
  if r == 0 then r = ncmp(a.c, b.c) end
  if r == 0 then r = bcmp(clock_key(a.vc), clock_key(b.vc)) end
  return r
end
local function leq(a, b)
  for k, n in pairs(a) do
    if n > (b[k] or 0) then return false end
  end
  return true
end
local function dominates(a, b)
  return leq(b, a) and not leq(a, b)
end

local strategy, device = ARGV[1], ARGV[2]
local ttl, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local raw = redis.call('GET', KEYS[1])
local doc = {}
if raw then doc = cjson.decode(raw) end
doc.h = doc.h or { 0, 0 }
doc.vc = doc.vc or {}
doc.f = doc.f or {}

local w, c, clock = now, 0, nil
if strategy == 'lww' then
  if ARGV[5] ~= '' then
    w = math.min(tonumber(ARGV[5]), now)
  else
    w = math.max(now, doc.h[1])
    if w == doc.h[1] then c = doc.h[2] + 1 end
  end
else
  -- What the device has seen (without a clock: everything stored), plus the write itself as the
  -- device's next event: past the document's entry of the device, so no stored value has seen it.
  if ARGV[6] ~= '' then
    clock = cjson.decode(ARGV[6])
  else
    clock = {}
    for k, n in pairs(doc.vc) do clock[k] = n end
  end
  clock[device] = math.max(clock[device] or 0, (doc.vc[device] or 0) + 1)
end

for i = 7, #ARGV, 2 do
  local v = ARGV[i + 1]
  if v == '' then v = false end
  local sib = { v = v, d = device, w = w, c = c }
  local siblings = doc.f[ARGV[i]] or {}
  if strategy == 'lww' then
    local winner = sib
    for _, s in ipairs(siblings) do
      if cmp_lww(s, winner) > 0 then winner = s end
    end
    doc.f[ARGV[i]] = { winner }
  else
    sib.vc = clock
    local stale = false
    for _, s in ipairs(siblings) do
      if dominates(s.vc or {}, clock) then stale = true end
    end
    if not stale then
      local winner, kept = sib, {}
      for _, s in ipairs(siblings) do
        local sc = s.vc or {}
        if leq(sc, clock) then
          if leq(clock, sc) and cmp_vector(s, winner) > 0 then winner = s end
        else
          kept[#kept + 1] = s
        end
      end
      kept[#kept + 1] = winner
      table.sort(kept, function(a, b) return cmp_vector(a, b) < 0 end)
      doc.f[ARGV[i]] = kept
    end
  end
end

if strategy == 'lww' then
  if w > doc.h[1] or (w == doc.h[1] and c > doc.h[2]) then doc.h = { w, c } end
else
  for k, n in pairs(clock) do
    if n > (doc.vc[k] or 0) then doc.vc[k] = n end
  end
end

local bytes = 0
for _, siblings in pairs(doc.f) do
  for _, s in ipairs(siblings) do
    if s.v then bytes = bytes + #s.v end
  end
end
if bytes > max_bytes then return { 'too_large', bytes, now } end
local text = cjson.encode(doc)
redis.call('SET', KEYS[1], text, 'EX', ttl)
return { 'ok', text, now }

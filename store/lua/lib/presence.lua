-- What the presence scripts share. A change raises rev and answers the new presence as
-- {rev, status, message, lastSeen, device...}; no change answers nothing, so each change is
-- announced exactly once, by the node that made it.
--
-- KEYS[1]  user devices hash (`deviceId|sessionId` -> nodeId)
-- KEYS[2]  user presence hash (status, message, lastSeen, rev)
-- KEYS[3]  the user's rooms (a set of room ids; same slot): a change answers them as a last,
--          nested element, so the node announces it without reading them again
--
-- Defines now (lib/now.lua), distinct_devices(), snapshot() and changed(ttl, devices).
--#include lib/now.lua
-- seen: device -> its sessions; list: the distinct devices.
local function distinct_devices()
  local seen, list = {}, {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local device = string.match(field, '^([^|]+)|')
    if device then
      if not seen[device] then list[#list + 1] = device end
      seen[device] = (seen[device] or 0) + 1
    end
  end
  return seen, list
end
-- The presence as the scripts answer it: {rev, status, message, lastSeen, device...}.
local function presence(rev, status, message, last_seen, devices)
  local out = { rev, status or 'online', message or '', last_seen }
  for _, device in ipairs(devices) do out[#out + 1] = device end
  return out
end
local function snapshot()
  local _, list = distinct_devices()
  local p = redis.call('HMGET', KEYS[2], 'rev', 'status', 'message', 'lastSeen')
  return presence(tonumber(p[1]) or 0, p[2], p[3], p[4] or '', list)
end
-- devices: the distinct devices as they are now, when the caller has them (else read here).
-- One HMGET and one HSET: every call a script makes costs Redis about as much as the command.
local function changed(ttl, devices)
  if not devices then devices = select(2, distinct_devices()) end
  local p = redis.call('HMGET', KEYS[2], 'rev', 'status', 'message')
  -- rev follows the clock, so it keeps growing even after an expired presence starts over.
  local rev = math.max((tonumber(p[1]) or 0) + 1, now)
  redis.call('HSET', KEYS[2], 'lastSeen', now, 'rev', rev)
  if #devices > 0 then redis.call('PERSIST', KEYS[2]) else redis.call('EXPIRE', KEYS[2], ttl) end
  local out = presence(rev, p[2], p[3], now, devices)
  out[#out + 1] = redis.call('SMEMBERS', KEYS[3])
  return out
end

-- What the presence scripts share. A change raises rev and answers the new presence as
-- {rev, status, message, lastSeen, device...}; no change answers nothing, so each change is
-- announced exactly once, by the node that made it.
--
-- KEYS[1]  user devices hash (`deviceId|sessionId` -> nodeId)
-- KEYS[2]  user presence hash (status, message, lastSeen, rev)
-- KEYS[3]  the user's rooms (a set of room ids; same slot): a change answers them as a last,
--          nested element, so the node announces it without reading them again
--
-- Defines now (lib/now.lua), distinct_devices(), snapshot() and changed(ttl).
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
local function snapshot()
  local _, list = distinct_devices()
  local p = redis.call('HMGET', KEYS[2], 'rev', 'status', 'message', 'lastSeen')
  local out = { tonumber(p[1]) or 0, p[2] or 'online', p[3] or '', p[4] or '' }
  for _, device in ipairs(list) do out[#out + 1] = device end
  return out
end
local function changed(ttl)
  redis.call('HSET', KEYS[2], 'lastSeen', now)
  -- rev follows the clock, so it keeps growing even after an expired presence starts over.
  local rev = math.max((tonumber(redis.call('HGET', KEYS[2], 'rev')) or 0) + 1, now)
  redis.call('HSET', KEYS[2], 'rev', rev)
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PERSIST', KEYS[2]) else redis.call('EXPIRE', KEYS[2], ttl) end
  local out = snapshot()
  out[#out + 1] = redis.call('SMEMBERS', KEYS[3])
  return out
end

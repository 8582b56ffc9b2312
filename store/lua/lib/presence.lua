-- What the presence scripts share. A change raises rev and answers the new presence as
-- {rev, status, message, lastSeen, device...}; no change answers nothing, so each change is
-- announced exactly once, by the node that made it.
--
-- A user's keys, `user` below, as each script takes them (all on the user's slot):
--   user.devices   devices hash (`deviceId|sessionId` -> nodeId)
--   user.presence  presence hash (status, message, lastSeen, rev)
--   user.rooms     the user's rooms (a set of room ids): a change answers them as a last,
--                  nested element, so the node announces it without reading them again
-- user_keys(i) makes it of KEYS[i], KEYS[i + 1], KEYS[i + 2].
--
-- Defines now (lib/now.lua), user_keys(i), distinct_devices(user), snapshot(user) and
-- changed(user, ttl, devices).
--#include lib/now.lua
local function user_keys(i)
  return { devices = KEYS[i], presence = KEYS[i + 1], rooms = KEYS[i + 2] }
end
-- seen: device -> its sessions; list: the distinct devices.
local function distinct_devices(user)
  local seen, list = {}, {}
  for _, field in ipairs(redis.call('HKEYS', user.devices)) do
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
local function snapshot(user)
  local _, list = distinct_devices(user)
  local p = redis.call('HMGET', user.presence, 'rev', 'status', 'message', 'lastSeen')
  return presence(tonumber(p[1]) or 0, p[2], p[3], p[4] or '', list)
end
-- devices: the distinct devices as they are now, when the caller has them (else read here).
-- One HMGET and one HSET: every call a script makes costs Redis about as much as the command.
local function changed(user, ttl, devices)
  if not devices then devices = select(2, distinct_devices(user)) end
  local p = redis.call('HMGET', user.presence, 'rev', 'status', 'message')
  -- rev follows the clock, so it keeps growing even after an expired presence starts over.
  local rev = math.max((tonumber(p[1]) or 0) + 1, now)
  redis.call('HSET', user.presence, 'lastSeen', now, 'rev', rev)
  if #devices > 0 then redis.call('PERSIST', user.presence) else redis.call('EXPIRE', user.presence, ttl) end
  local out = presence(rev, p[2], p[3], now, devices)
  out[#out + 1] = redis.call('SMEMBERS', user.rooms)
  return out
end

-- Removes sessions: the releases a node makes together, one after another in the order given,
-- each the sessions of one user, each as if it ran alone.
--
-- ARGV[1]  ttlS
-- then per release i = 1..n: the session set's member prefix (`tenant|userId|`), the number k of
-- its sessions, then k `deviceId|sessionId` fields
-- KEYS[3i - 2 .. 3i]  release i's user: devices hash, presence hash and rooms (see
--          lib/presence.lua); on a Redis Cluster every release of a call is of the same user
-- KEYS[3n + 1]  (one Redis only) the node's session set: the sessions leave it in the same step
--          (on a Redis Cluster it lives on another slot and is written after this script)
--
-- Returns one reply per release, in order: {released} when no device went away, else
-- {released, presence...}; an error reply when a command failed on this release's keys
-- (WRONGTYPE): the other releases of the call go on.
--#include lib/presence.lua
--#include lib/calls.lua
local ttl = tonumber(ARGV[1])
local releases = {}
local a = 2
while a <= #ARGV do
  local k = tonumber(ARGV[a + 1])
  releases[#releases + 1] = { prefix = ARGV[a], first = a + 2, last = a + 1 + k }
  a = a + 2 + k
end
local node_sessions = KEYS[3 * #releases + 1]

local function release(i)
  local user = user_keys(3 * i - 2)
  local r = releases[i]
  local before = distinct_devices(user)
  local released = 0
  for f = r.first, r.last do
    released = released + redis.call('HDEL', user.devices, ARGV[f])
    if node_sessions then redis.call('SREM', node_sessions, r.prefix .. ARGV[f]) end
  end
  if released == 0 then return { 0 } end
  local after, devices = distinct_devices(user)
  for device in pairs(before) do
    if not after[device] then
      local out = changed(user, ttl, devices)
      table.insert(out, 1, released)
      return out
    end
  end
  return { released }
end

return each_call(#releases, release)

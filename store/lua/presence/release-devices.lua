-- Removes sessions of a user.
--
-- KEYS[1..3]  the user's devices hash, presence hash and rooms (see lib/presence.lua)
-- ARGV[1]  ttlS
-- ARGV[2]  the session set's member prefix (`tenant|userId|`), with KEYS[4]
-- ARGV[3..] `deviceId|sessionId` fields
-- KEYS[4]  (one Redis only) the node's session set: the sessions leave it in the same step (on a
--          Redis Cluster it lives on another slot and is written after this script)
--
-- Returns {released} when no device went away, else {released, presence...}.
--#include lib/presence.lua
local user = user_keys(1)
local before = distinct_devices(user)
local released = 0
for i = 3, #ARGV do
  released = released + redis.call('HDEL', user.devices, ARGV[i])
  if KEYS[4] then redis.call('SREM', KEYS[4], ARGV[2] .. ARGV[i]) end
end
if released == 0 then return { 0 } end
local after, devices = distinct_devices(user)
for device in pairs(before) do
  if not after[device] then
    local out = changed(user, tonumber(ARGV[1]), devices)
    table.insert(out, 1, released)
    return out
  end
end
return { released }

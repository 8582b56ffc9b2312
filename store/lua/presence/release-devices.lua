-- Removes sessions of a user.
--
-- KEYS[1]  user devices hash (see lib/presence.lua)
-- KEYS[2]  user presence hash
-- ARGV[1]  ttlS
-- ARGV[2]  the session set's member prefix (`tenant|userId|`), with KEYS[4]
-- ARGV[3..] `deviceId|sessionId` fields
-- KEYS[3]  the user's rooms (see lib/presence.lua)
-- KEYS[4]  (one Redis only) the node's session set: the sessions leave it in the same step (on a
--          Redis Cluster it lives on another slot and is written after this script)
--
-- Returns {released} when no device went away, else {released, presence...}.
--#include lib/presence.lua
local before = distinct_devices()
local released = 0
for i = 3, #ARGV do
  released = released + redis.call('HDEL', KEYS[1], ARGV[i])
  if KEYS[4] then redis.call('SREM', KEYS[4], ARGV[2] .. ARGV[i]) end
end
if released == 0 then return { 0 } end
local after, devices = distinct_devices()
for device in pairs(before) do
  if not after[device] then
    local out = changed(tonumber(ARGV[1]), devices)
    table.insert(out, 1, released)
    return out
  end
end
return { released }

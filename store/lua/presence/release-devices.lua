-- Removes sessions of a user.
--
-- KEYS[1]  user devices hash (see lib/presence.lua)
-- KEYS[2]  user presence hash
-- ARGV[1]  ttlS
-- ARGV[2..] `deviceId|sessionId` fields
--
-- Returns {released} when no device went away, else {released, presence...}.
--#include lib/presence.lua
local before = distinct_devices()
local released = 0
for i = 2, #ARGV do released = released + redis.call('HDEL', KEYS[1], ARGV[i]) end
if released == 0 then return { 0 } end
local after = distinct_devices()
for device in pairs(before) do
  if not after[device] then
    local out = changed(tonumber(ARGV[1]))
    table.insert(out, 1, released)
    return out
  end
end
return { released }

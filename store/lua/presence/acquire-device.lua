-- Adds a session of a device to a user, within the device and session limits.
--
-- KEYS[1]  user devices hash (see lib/presence.lua)
-- KEYS[2]  user presence hash
-- ARGV[1]  deviceId
-- ARGV[2]  sessionId
-- ARGV[3]  nodeId
-- ARGV[4]  device limit
-- ARGV[5]  sessions-per-device limit
-- KEYS[3]  the user's rooms (see lib/presence.lua)
-- KEYS[4]  (one Redis only) the node's session set, listed in the same step: ARGV[6] its member
--          (on a Redis Cluster the set lives on another slot and is written before this script)
--
-- Refused: {0, distinct devices} or {0, distinct devices, sessions of this device}.
-- Added: {1} when the device was already connected, else {1, presence...}.
--#include lib/presence.lua
local seen, list = distinct_devices()
if not seen[ARGV[1]] and #list >= tonumber(ARGV[4]) then return { 0, #list } end
if seen[ARGV[1]] and seen[ARGV[1]] >= tonumber(ARGV[5]) then return { 0, #list, seen[ARGV[1]] } end
if KEYS[4] then redis.call('SADD', KEYS[4], ARGV[6]) end
redis.call('HSET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
if seen[ARGV[1]] then return { 1 } end
list[#list + 1] = ARGV[1]
local out = changed(0, list)
table.insert(out, 1, 1)
return out

-- Adds sessions of devices to their users, within the device and session limits: the handshakes
-- a node takes together, one after another in the order given, each as if it ran alone (a second
-- session of the same user in the same call sees the first).
--
-- ARGV[1]  nodeId
-- ARGV[2]  device limit
-- ARGV[3]  sessions-per-device limit
-- then per session i = 1..n, from ARGV[4 + 3(i - 1)]: deviceId, sessionId, its member in the
-- node's session set
-- KEYS[3i - 2 .. 3i]  session i's user: devices hash, presence hash and rooms (see
--          lib/presence.lua); on a Redis Cluster every session of a call is of the same user
-- KEYS[3n + 1]  (one Redis only) the node's session set, listed in the same step (on a Redis
--          Cluster the set lives on another slot and is written before this script)
--
-- Returns one reply per session, in order:
--   refused: {0, distinct devices} or {0, distinct devices, sessions of this device};
--   added: {1} when the device was already connected, else {1, presence...};
--   an error reply when a command failed on this session's keys (WRONGTYPE): the other sessions
--   of the call go on, so one user's broken keys fail no one else's handshake.
--#include lib/presence.lua
--#include lib/calls.lua
local n = (#ARGV - 3) / 3
local node_sessions = KEYS[3 * n + 1]
local limit, per_device = tonumber(ARGV[2]), tonumber(ARGV[3])

local function acquire(i)
  local user = user_keys(3 * i - 2)
  local device, session, member = ARGV[3 * i + 1], ARGV[3 * i + 2], ARGV[3 * i + 3]
  local seen, list = distinct_devices(user)
  if not seen[device] and #list >= limit then return { 0, #list } end
  if seen[device] and seen[device] >= per_device then return { 0, #list, seen[device] } end
  if node_sessions then redis.call('SADD', node_sessions, member) end
  redis.call('HSET', user.devices, device .. '|' .. session, ARGV[1])
  if seen[device] then return { 1 } end
  list[#list + 1] = device
  local out = changed(user, 0, list)
  table.insert(out, 1, 1)
  return out
end

return each_call(n, acquire)

-- Reserves a room id against the user's quota of created rooms. The rooms a user created: a
-- hash on the user's slot, room id -> `p:<reservedAt>:<token>` while a create is under way,
-- `c:<token>` once the room exists. The room's own keys live on another slot, so a create
-- reserves here first, then creates the room.
-- A stale entry is dropped while it still holds that value, unless it is a reservation younger
-- than graceMs (its create may still be running).
--
-- KEYS[1]  the user's created-rooms hash
-- ARGV[1]  limit
-- ARGV[2]  room id
-- ARGV[3]  token
-- ARGV[4]  graceMs
-- ARGV[5..] room id / value pairs found stale (the room is gone or no longer the user's)
--
-- Returns {'ok', value}, {'exists'} when the user holds an entry for the id already, or
-- {'quota', count}.
--#include lib/now.lua
for i = 5, #ARGV, 2 do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value == ARGV[i + 1] then
    local reservedAt = string.match(value, '^p:(%d+):')
    if not reservedAt or tonumber(reservedAt) <= now - tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], ARGV[i]) end
  end
end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {'exists'} end
local count = redis.call('HLEN', KEYS[1])
if count >= tonumber(ARGV[1]) then return {'quota', count} end
local value = 'p:' .. now .. ':' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[2], value)
return {'ok', value}

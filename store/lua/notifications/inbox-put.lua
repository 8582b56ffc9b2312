-- Stores a notification in a user's inbox, dropping the oldest beyond the max size.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- ARGV[1]  id
-- ARGV[2]  notification JSON
-- ARGV[3]  createdAt
-- ARGV[4]  expiresAt
-- ARGV[5]  max size
--
-- Returns 1 when stored, 0 when present already (or expired on arrival).
--#include lib/inbox.lua
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or tonumber(ARGV[4]) <= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do drop(id) end
end
-- The keys live as long as their longest-lived notification.
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
if last[2] then
  for i = 1, 4 do redis.call('PEXPIREAT', KEYS[i], last[2]) end
end
return 1

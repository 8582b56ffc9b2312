-- Marks a notification read.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- ARGV[1]  id
--
-- Returns 1 when marked, 0 when not in the inbox.
--#include lib/inbox.lua
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[4], ARGV[1])
return 1

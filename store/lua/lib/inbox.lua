-- Drops the notifications of a user's inbox that expired. Every key of one user shares the hash
-- tag `{u:<tenant>:<user>}`, so the inbox scripts run on one slot, also on a Redis Cluster.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
--
-- Defines now (lib/now.lua) and drop(id).
--#include lib/now.lua
local function drop(id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('SREM', KEYS[4], id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do drop(id) end

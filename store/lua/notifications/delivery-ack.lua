-- Records that a notification was acked.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- KEYS[5]  delivery hash
-- ARGV[1]  id
--
-- Returns 1 when acked now or before, 0 when not in the inbox.
--#include lib/delivery.lua
if not expires then return 0 end
redis.call('HSET', KEYS[5], 'acked', 1)
touched()
return 1

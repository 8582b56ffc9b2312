-- Records that a notification was pushed to one device, and frees the claim.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- KEYS[5]  delivery hash
-- KEYS[6]  lease key
-- ARGV[1]  id
-- ARGV[2]  deviceId
--
-- Returns 1.
--#include lib/delivery.lua
redis.call('HSET', KEYS[5], 'sent:' .. ARGV[2], 1)
redis.call('DEL', KEYS[6])
touched()
return 1

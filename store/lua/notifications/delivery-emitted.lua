-- Records when a notification was first emitted to the user's sockets.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- KEYS[5]  delivery hash
-- ARGV[1]  id
-- ARGV[2]  at
--
-- Returns the first emission time (this one unless an earlier owner emitted).
--#include lib/delivery.lua
if not expires then return ARGV[2] end
redis.call('HSETNX', KEYS[5], 'emittedAt', ARGV[2])
touched()
return redis.call('HGET', KEYS[5], 'emittedAt')

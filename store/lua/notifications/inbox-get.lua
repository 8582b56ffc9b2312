-- Reads one notification of a user's inbox.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- ARGV[1]  id
--
-- Returns {JSON, read flag} or {}.
--#include lib/inbox.lua
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {} end
return { json, redis.call('SISMEMBER', KEYS[4], ARGV[1]) }

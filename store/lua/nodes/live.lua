-- The nodes whose heartbeat is recent.
--
-- KEYS[1]  nodes zset
-- KEYS[2]  node-info hash
-- ARGV[1]  timeoutMs
--
-- Returns the info JSON of the live nodes.
--#include lib/now.lua
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))

-- The nodes whose heartbeat expired.
--
-- KEYS[1]  nodes zset
-- ARGV[1]  timeoutMs
--
-- Returns their ids.
--#include lib/now.lua
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))

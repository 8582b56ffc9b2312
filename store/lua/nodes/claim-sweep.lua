-- Claims the sweep of a node whose heartbeat expired, so one node cleans up after it.
--
-- KEYS[1]  nodes zset
-- KEYS[2]  sweep lease key
-- ARGV[1]  nodeId
-- ARGV[2]  timeoutMs
-- ARGV[3]  leaseMs
--
-- Returns 1 when claimed, else 0.
--#include lib/now.lua
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > now - tonumber(ARGV[2]) then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return 1 end
return 0

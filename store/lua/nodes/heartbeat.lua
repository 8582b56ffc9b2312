-- Records a node's heartbeat in the node registry.
--
-- KEYS[1]  nodes zset (nodeId by last heartbeat)
-- KEYS[2]  node-info hash
-- ARGV[1]  nodeId
-- ARGV[2]  info JSON
--
-- Returns now.
--#include lib/now.lua
redis.call('ZADD', KEYS[1], now, ARGV[1])
local info = cjson.decode(ARGV[2])
info['lastHeartbeat'] = now
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(info))
return now

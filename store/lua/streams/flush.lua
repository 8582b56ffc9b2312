-- Takes the next update of a stream (one per interval cluster-wide): due when points were
-- aggregated since the last one, or every decayMs while its windows still hold points.
--
-- KEYS[1]  dirty
-- KEYS[2]  lease
-- KEYS[3]  meta (seq, lastId, live, flushedAt)
-- KEYS[4]  points
-- ARGV[1]  holdMs (the lease until `sent`)
-- ARGV[2]  decayMs
--
-- Returns {'busy'} | {'clean', next due ms or 0} | {'ok', seq, now, previous last id or '', newest id or ''}.
--#include lib/now.lua
if redis.call('EXISTS', KEYS[2]) == 1 then return {'busy'} end
local meta = redis.call('HMGET', KEYS[3], 'lastId', 'live', 'flushedAt')
if redis.call('EXISTS', KEYS[1]) == 0 then
  if meta[2] ~= '1' then return {'clean', 0} end
  local due = (tonumber(meta[3]) or 0) + tonumber(ARGV[2])
  if now < due then return {'clean', due} end
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[1])
local last = meta[1] or ''
local head = last
local newest = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
if newest[1] then head = newest[1][1] end
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('HSET', KEYS[3], 'lastId', head, 'flushedAt', now)
return {'ok', seq, now, last, head}

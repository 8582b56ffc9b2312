-- The next update of a leaderboard, at most one per interval cluster-wide: the lease is taken
-- here, with the diff of the top against the previous update's snapshot, in one step.
--
-- KEYS[1]  scores
-- KEYS[2]  dirty
-- KEYS[3]  lease
-- KEYS[4]  snapshot
-- KEYS[5]  meta
-- ARGV[1]  intervalMs
-- ARGV[2]  topMax
-- ARGV[3]  holdMs (the lease until `sent`)
--
-- Returns {'busy'} | {'clean'} | {'same'} | {'ok', seq, total, now,
-- {user, "rank|score", previous "rank|score" or ''}..., {removed user...}}.
--#include lib/now.lua
if redis.call('EXISTS', KEYS[3]) == 1 then return {'busy'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'clean'} end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
local top = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
local total = redis.call('ZCARD', KEYS[1])
local old = {}
local flat = redis.call('HGETALL', KEYS[4])
for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end
local fresh, changes = {}, {}
for i = 1, #top, 2 do
  local user = top[i]
  local entry = tostring((i + 1) / 2) .. '|' .. top[i + 1]
  fresh[#fresh + 1] = user
  fresh[#fresh + 1] = entry
  if old[user] ~= entry then
    changes[#changes + 1] = user
    changes[#changes + 1] = entry
    changes[#changes + 1] = old[user] or ''
  end
  old[user] = nil
end
local removed = {}
for user in pairs(old) do removed[#removed + 1] = user end
local meta = redis.call('HMGET', KEYS[5], 'seq', 'total')
if #changes == 0 and #removed == 0 and tonumber(meta[2]) == total then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
  return {'same'}
end
redis.call('DEL', KEYS[4])
if #fresh > 0 then redis.call('HSET', KEYS[4], unpack(fresh)) end
local seq = redis.call('HINCRBY', KEYS[5], 'seq', 1)
redis.call('HSET', KEYS[5], 'total', total)
return {'ok', seq, total, now, changes, removed}

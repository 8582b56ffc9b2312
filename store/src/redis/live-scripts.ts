/**
 * Lua scripts of leaderboards and live streams. The keys of one leaderboard or stream share a
 * hash tag, so each script runs on one slot, also on a Redis Cluster.
 */
import { NOW_MS } from "./scripts";

/**
 * Sets (`set`) or adds to (`inc`) a user's leaderboard score, marks the leaderboard dirty, and
 * records an achievement the write unlocks. Scores are stored negated, so ZRANGE/ZRANK order the
 * highest first and ties by user id in byte order.
 * KEYS: scores zset, dirty key, achievements set. ARGV: mode, userId, negated value or increment,
 * achievementId ('' = none), threshold ('' = none: unlocks with this write).
 * Returns { stored (negated) score, rank (1-based), unlocked (1/0), previous stored score or '' }.
 */
export const LEADERBOARD_SCORE = `
local previous = redis.call('ZSCORE', KEYS[1], ARGV[2])
local stored
if ARGV[1] == 'inc' then
  stored = redis.call('ZINCRBY', KEYS[1], ARGV[3], ARGV[2])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  stored = redis.call('ZSCORE', KEYS[1], ARGV[2])
end
redis.call('SET', KEYS[2], '1')
local rank = redis.call('ZRANK', KEYS[1], ARGV[2]) + 1
local unlocked = 0
if ARGV[4] ~= '' then
  local crossed = true
  if ARGV[5] ~= '' then
    -- negated: a score at least the threshold is a stored value at most -threshold
    local limit = -tonumber(ARGV[5])
    crossed = tonumber(stored) <= limit and (not previous or tonumber(previous) > limit)
  end
  if crossed and redis.call('SADD', KEYS[3], ARGV[2] .. '|' .. ARGV[4]) == 1 then unlocked = 1 end
end
return { stored, rank, unlocked, previous or '' }
`;

/**
 * The next update of a leaderboard, at most one per interval cluster-wide: the lease is taken
 * here, with the diff of the top against the previous update's snapshot, in one step.
 * KEYS: scores, dirty, lease, snapshot, meta. ARGV: intervalMs, topMax, holdMs (the lease until `sent`).
 * Returns {'busy'} | {'clean'} | {'same'} | {'ok', seq, total, now, {user, "rank|score", previous "rank|score" or ''}..., {removed user...}}.
 */
export const LEADERBOARD_FLUSH = `${NOW_MS}
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
`;

/**
 * The snapshot of the last update. A leaderboard with scores and no update yet is marked dirty
 * (its mark in the due index was lost), so it gets one.
 * KEYS: scores, snapshot, meta, dirty. Returns { seq, total, {user, "rank|score"...}, dirty (1/0) }.
 */
export const LEADERBOARD_SNAPSHOT = `
local meta = redis.call('HMGET', KEYS[3], 'seq', 'total')
if not meta[1] and redis.call('ZCARD', KEYS[1]) > 0 then redis.call('SET', KEYS[4], '1') end
return { meta[1] or '0', meta[2] or '0', redis.call('HGETALL', KEYS[2]), redis.call('EXISTS', KEYS[4]) }
`;

/**
 * Acks points and aggregates those still pending, in one step: XACK answers 1 only for an entry
 * that was pending, so an entry held by two consumers (one claimed it from the other) counts once.
 * KEYS: points stream, dirty, then a (bucket hash, bucket values list) pair per bucket.
 * ARGV: group, sample size, random seed, n, then n (id, value) pairs, then per bucket:
 * expireAt ms, k, and the k (1-based) indexes of its points.
 * A bucket hash holds count, sum, min, max; its list a uniform sample of its values (reservoir).
 * Returns how many entries were acked now.
 */
export const STREAM_AGGREGATE = `
local n = tonumber(ARGV[4])
local fresh = {}
local acked = 0
for i = 1, n do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[3 + 2 * i]) == 1 then
    fresh[i] = true
    acked = acked + 1
  end
end
local cap = tonumber(ARGV[2])
local seed = tonumber(ARGV[3])
local function random(m)
  seed = (seed * 16807) % 2147483647
  return (seed % m) + 1
end
local p = 5 + 2 * n
local b = 0
while p <= #ARGV do
  local hash, list = KEYS[3 + 2 * b], KEYS[4 + 2 * b]
  local expireAt = ARGV[p]
  local k = tonumber(ARGV[p + 1])
  p = p + 2
  local h = redis.call('HMGET', hash, 'count', 'sum', 'min', 'max')
  local count = tonumber(h[1]) or 0
  local sum = tonumber(h[2]) or 0
  local min, max = h[3], h[4]
  local before = count
  for j = 0, k - 1 do
    local idx = tonumber(ARGV[p + j])
    if fresh[idx] then
      local text = ARGV[4 + 2 * idx]
      local v = tonumber(text)
      count = count + 1
      sum = sum + v
      if not min or v < tonumber(min) then min = text end
      if not max or v > tonumber(max) then max = text end
      if count <= cap then
        redis.call('RPUSH', list, text)
      else
        local r = random(count)
        if r <= cap then redis.call('LSET', list, r - 1, text) end
      end
    end
  end
  p = p + k
  if count > before then
    redis.call('HSET', hash, 'count', count, 'sum', string.format('%.17g', sum), 'min', min, 'max', max)
    redis.call('PEXPIREAT', hash, expireAt)
    redis.call('PEXPIREAT', list, expireAt)
  end
  b = b + 1
end
if acked > 0 then redis.call('SET', KEYS[2], '1') end
return acked
`;

/**
 * Every bucket of every window, read at one instant. KEYS: (bucket hash, values list) pairs.
 * Returns { now, {count, sum, min, max, {values...}} or {} per bucket }.
 */
export const STREAM_BUCKETS = `${NOW_MS}
local out = {}
for i = 1, #KEYS, 2 do
  local h = redis.call('HMGET', KEYS[i], 'count', 'sum', 'min', 'max')
  if h[1] then
    out[#out + 1] = { h[1], h[2], h[3], h[4], redis.call('LRANGE', KEYS[i + 1], 0, -1) }
  else
    out[#out + 1] = {}
  end
end
return { now, out }
`;

/**
 * Takes the next update of a stream (one per interval cluster-wide): due when points were
 * aggregated since the last one, or every decayMs while its windows still hold points.
 * KEYS: dirty, lease, meta (seq, lastId, live, flushedAt), points. ARGV: holdMs (the lease until `sent`), decayMs.
 * Returns {'busy'} | {'clean', next due ms or 0} | {'ok', seq, now, previous last id or '', newest id or ''}.
 */
export const STREAM_FLUSH = `${NOW_MS}
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
`;

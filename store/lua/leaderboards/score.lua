-- Sets (`set`) or adds to (`inc`) a user's leaderboard score, marks the leaderboard dirty, and
-- records an achievement the write unlocks. Scores are stored negated, so ZRANGE/ZRANK order the
-- highest first and ties by user id in byte order. The keys of one leaderboard share a hash tag.
--
-- KEYS[1]  scores zset
-- KEYS[2]  dirty key
-- KEYS[3]  achievements set
-- ARGV[1]  mode ('set' or 'inc')
-- ARGV[2]  userId
-- ARGV[3]  negated value or increment
-- ARGV[4]  achievementId ('' = none)
-- ARGV[5]  threshold ('' = none: unlocks with this write)
--
-- Returns { stored (negated) score, rank (1-based), unlocked (1/0), previous stored score or '' }.
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

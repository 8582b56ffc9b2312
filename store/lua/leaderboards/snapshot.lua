-- The snapshot of the last update. A leaderboard with scores and no update yet is marked dirty
-- (its mark in the due index was lost), so it gets one.
--
-- KEYS[1]  scores
-- KEYS[2]  snapshot
-- KEYS[3]  meta
-- KEYS[4]  dirty
--
-- Returns { seq, total, {user, "rank|score"...}, dirty (1/0) }.
local meta = redis.call('HMGET', KEYS[3], 'seq', 'total')
if not meta[1] and redis.call('ZCARD', KEYS[1]) > 0 then redis.call('SET', KEYS[4], '1') end
return { meta[1] or '0', meta[2] or '0', redis.call('HGETALL', KEYS[2]), redis.call('EXISTS', KEYS[4]) }

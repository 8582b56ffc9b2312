-- Creates a workspace unless its id is taken. A workspace's keys share the tag `{w:<tenant>:<id>}`.
--
-- KEYS[1]  workspace meta
-- KEYS[2]  workspace members
-- ARGV[1]  record JSON
-- ARGV[2..] userId / member JSON pairs
--
-- Returns 1 when created, 0 when the id is taken.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('DEL', KEYS[2])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1

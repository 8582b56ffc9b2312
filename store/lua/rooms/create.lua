-- Creates a room unless its id is taken; a new room starts with an empty history.
--
-- KEYS[1]  room meta
-- KEYS[2]  room members
-- KEYS[3]  room history
-- ARGV[1]  idle TTL s
-- ARGV[2]  record JSON
-- ARGV[3..] userId / member JSON pairs
--
-- Returns 1 when created, 0 when the id is taken.
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return 1

-- Adds a member to a room, within the room's maxSize.
--
-- KEYS[1]  room meta
-- KEYS[2]  room members
-- ARGV[1]  userId
-- ARGV[2]  member JSON
-- ARGV[3]  idle TTL s
--
-- Returns 'missing', 'full', 'present' or 'added'.
local meta = redis.call('GET', KEYS[1])
if not meta then return 'missing' end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local outcome = 'added'
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  outcome = 'present'
elseif redis.call('HLEN', KEYS[2]) >= tonumber(cjson.decode(meta)['maxSize']) then
  return 'full'
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return outcome

-- Stores a message and publishes it to the Socket.IO adapter's channel in one step.
-- The frame is the adapter's msgpack packet split where the message id goes; the id made by
-- XADD is spliced in as a msgpack string, so the delivered id is the stored id.
--
-- KEYS[1]  room meta
-- KEYS[2]  room members
-- KEYS[3]  room history
-- KEYS[4]  publish-once key (the history key when unused)
-- ARGV[1]  member required ('' = none)
-- ARGV[2]  stored message JSON
-- ARGV[3]  history size
-- ARGV[4]  history TTL s
-- ARGV[5]  idle TTL s
-- ARGV[6]  use publish-once ('1'/'0')
-- ARGV[7]  adapter channel ('' = no publish)
-- ARGV[8]  frame prefix
-- ARGV[9]  frame suffix
--
-- Returns {'missing'}, {'forbidden'}, {'duplicate', id} or {'published', id}.
--#include lib/now.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if ARGV[1] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {'forbidden'} end
if ARGV[6] == '1' then
  local prior = redis.call('GET', KEYS[4])
  if prior then return {'duplicate', prior} end
end
local ttl = tonumber(ARGV[4])
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[2])
redis.call('XTRIM', KEYS[3], 'MINID', '~', now - ttl * 1000)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if ARGV[6] == '1' then redis.call('SET', KEYS[4], id, 'EX', ttl) end
if ARGV[7] ~= '' then
  local header
  if #id < 32 then header = string.char(160 + #id) else header = string.char(217, #id) end
  redis.call('PUBLISH', ARGV[7], ARGV[8] .. header .. id .. ARGV[9])
end
return {'published', id}

-- Creates a collaborative document at version 0 unless it exists (doc:open by someone who may edit
-- it), so the room's or workspace's document index names every document a member may have open.
--
-- KEYS[1]  scope meta
-- KEYS[2]  scope members
-- KEYS[3]  doc meta
-- KEYS[4]  scope's document index
-- ARGV[1]  member required ('' = none)
-- ARGV[2]  type
-- ARGV[3]  idle TTL s (0 = none)
-- ARGV[4]  document id
--
-- Returns {'missing'}, {'exists', type}, {'forbidden'} or {'created'}.
--#include lib/now.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local existing = redis.call('HGET', KEYS[3], 'type')
if existing then return {'exists', existing} end
if ARGV[1] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {'forbidden'} end
redis.call('HSET', KEYS[3], 'type', ARGV[2], 'version', 0, 'logStart', 0, 'snapshotVersion', 0, 'createdAt', now)
redis.call('SADD', KEYS[4], ARGV[4])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('EXPIRE', KEYS[4], ttl)
end
return {'created'}

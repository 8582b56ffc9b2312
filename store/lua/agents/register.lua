-- Registers an agent, or changes its workspace, owner and name. The agent is a hash (workspaceId,
-- ownerId, name, createdAt, updatedAt) so nothing user-given passes through cjson. An agent's keys
-- share the tag `{a:<tenant>:<id>}`.
--
-- KEYS[1]  agent hash
-- ARGV[1]  workspaceId
-- ARGV[2]  ownerId ('' = none)
-- ARGV[3]  name ('' = none)
--
-- Returns { created (1/0), previous workspaceId ('' when new), now }.
--#include lib/now.lua
local previous = redis.call('HGET', KEYS[1], 'workspaceId') or ''
local created = 0
if redis.call('HSETNX', KEYS[1], 'createdAt', now) == 1 then created = 1 end
redis.call('HSET', KEYS[1], 'workspaceId', ARGV[1], 'updatedAt', now)
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'ownerId') else redis.call('HSET', KEYS[1], 'ownerId', ARGV[2]) end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'name') else redis.call('HSET', KEYS[1], 'name', ARGV[3]) end
return { created, previous, now }

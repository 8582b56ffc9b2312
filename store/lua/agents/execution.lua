-- Records an execution event of a registered agent as its last known state: a hash of
-- executionId, status, progress, currentStep, task/result/error (JSON text, kept verbatim),
-- startedAt, updatedAt, completedAt. `start` begins a new execution; any other event for an
-- execution the state does not hold begins it too (the start was missed).
--
-- KEYS[1]  agent hash
-- KEYS[2]  execution hash
-- ARGV[1]  kind (start, update, complete or fail)
-- ARGV[2]  executionId
-- ARGV[3..] field / value pairs to set ('' value = remove the field)
--
-- Returns {'missing'} for an unknown agent, else { 'ok', workspaceId, now, field, value, ... }.
--#include lib/now.lua
local workspace = redis.call('HGET', KEYS[1], 'workspaceId')
if not workspace then return {'missing'} end
if ARGV[1] == 'start' or redis.call('HGET', KEYS[2], 'executionId') ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'executionId', ARGV[2], 'startedAt', now, 'status', 'running', 'progress', '0')
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[2], ARGV[i]) else redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
redis.call('HSET', KEYS[2], 'updatedAt', now)
if ARGV[1] == 'complete' or ARGV[1] == 'fail' then redis.call('HSET', KEYS[2], 'completedAt', now) end
local out = { 'ok', workspace, now }
for _, v in ipairs(redis.call('HGETALL', KEYS[2])) do out[#out + 1] = v end
return out

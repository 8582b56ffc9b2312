/**
 * Lua scripts that both the nodes and the emitter run, so a write made by a backend service is
 * the very same write a node makes (PROTOCOL §5). Each runs atomically on one slot of a Redis
 * Cluster: the keys it touches share a hash tag (see keys.ts). Times come from the Redis clock,
 * so writers with skewed clocks agree.
 */

/** Sets `now`: the Redis clock in ms. */
export const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Stores a message and publishes it to the Socket.IO adapter's channel in one step.
 * KEYS: room meta, room members, room history, publish-once key (the history key when unused).
 * ARGV: member required ('' = none), stored message JSON, history size, history TTL s, idle TTL s,
 * use publish-once ('1'/'0'), adapter channel ('' = no publish), frame prefix, frame suffix.
 * The frame is the adapter's msgpack packet split where the message id goes; the id made by
 * XADD is spliced in as a msgpack string, so the delivered id is the stored id.
 * Returns { outcome, id? }.
 */
export const PUBLISH_MESSAGE = `${NOW_MS}
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
`;

/** KEYS: inbox hash, order zset, expiry zset, read set. Drops what expired. */
export const DROP_EXPIRED = `${NOW_MS}
local function drop(id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('SREM', KEYS[4], id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do drop(id) end
`;

/**
 * KEYS: inbox keys. ARGV: id, notification JSON, createdAt, expiresAt, max size.
 * Returns 1 when stored, 0 when present already (or expired on arrival).
 */
export const INBOX_PUT = `${DROP_EXPIRED}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or tonumber(ARGV[4]) <= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do drop(id) end
end
-- The keys live as long as their longest-lived notification.
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
if last[2] then
  for i = 1, 4 do redis.call('PEXPIREAT', KEYS[i], last[2]) end
end
return 1
`;

/**
 * Registers an agent, or changes its workspace, owner and name. The agent is a hash (workspaceId,
 * ownerId, name, createdAt, updatedAt) so nothing user-given passes through cjson.
 * KEYS: agent hash. ARGV: workspaceId, ownerId ('' = none), name ('' = none).
 * Returns { created (1/0), previous workspaceId ('' when new), now }.
 */
export const AGENT_REGISTER = `${NOW_MS}
local previous = redis.call('HGET', KEYS[1], 'workspaceId') or ''
local created = 0
if redis.call('HSETNX', KEYS[1], 'createdAt', now) == 1 then created = 1 end
redis.call('HSET', KEYS[1], 'workspaceId', ARGV[1], 'updatedAt', now)
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'ownerId') else redis.call('HSET', KEYS[1], 'ownerId', ARGV[2]) end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'name') else redis.call('HSET', KEYS[1], 'name', ARGV[3]) end
return { created, previous, now }
`;

/**
 * Records an execution event of a registered agent as its last known state: a hash of
 * executionId, status, progress, currentStep, task/result/error (JSON text, kept verbatim),
 * startedAt, updatedAt, completedAt. `start` begins a new execution; any other event for an
 * execution the state does not hold begins it too (the start was missed).
 * KEYS: agent hash, execution hash. ARGV: kind (start|update|complete|fail), executionId, then
 * field/value pairs to set ('' value = remove the field).
 * Returns {'missing'} for an unknown agent, else { 'ok', workspaceId, now, field, value, ... }.
 */
export const AGENT_EXECUTION = `${NOW_MS}
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
`;

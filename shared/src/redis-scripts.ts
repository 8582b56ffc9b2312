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

/**
 * Reads a collaborative document. KEYS: doc meta, doc log, doc snapshot. ARGV: the version the
 * caller has (-1: none). Answers {} for no document; {'ops', type, version, entry...} with the
 * entries after that version when the log still holds them; else {'snapshot', type, version,
 * snapshotVersion, snapshot JSON ('' = the type's empty document), entry...} with the entries
 * after the snapshot. The log holds the entries logStart+1 … version, and logStart <= snapshotVersion.
 */
export const DOC_READ = `
local meta = redis.call('HMGET', KEYS[1], 'type', 'version', 'logStart', 'snapshotVersion')
if not meta[1] then return {} end
local version, logStart, snapshotVersion = tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4])
local from = tonumber(ARGV[1])
if from >= logStart and from <= version then
  local out = { 'ops', meta[1], version }
  if from < version then
    for _, e in ipairs(redis.call('LRANGE', KEYS[2], from - logStart, -1)) do out[#out + 1] = e end
  end
  return out
end
local out = { 'snapshot', meta[1], version, snapshotVersion, redis.call('GET', KEYS[3]) or '' }
if snapshotVersion < version then
  for _, e in ipairs(redis.call('LRANGE', KEYS[2], snapshotVersion - logStart, -1)) do out[#out + 1] = e end
end
return out
`;

/**
 * Appends ops to a collaborative document's log, atomically with the version check, and
 * publishes each to the document's subscribers. The caller transformed the ops, in order, to
 * follow the version it believes current; when another writer appended first the script refuses
 * with the entries since, and the caller transforms again and retries. A node appends the ops it
 * received meanwhile together (the emitter one at a time): all or none.
 * KEYS: scope meta (room or workspace), scope members, doc meta, doc log, doc snapshot, scope's
 * document index, then the once keys of the ops that have a clientOpId.
 * ARGV: expected version, type, op count N, snapshot version (0 = none), snapshot JSON, log keep,
 * once TTL s, idle TTL s (0 = the document never expires; else the document and its room expire
 * together), document id, then per op: member required ('' = none), entry JSON, its once key's
 * index in KEYS (0 = none), adapter channel ('' = no publish), adapter frame.
 * Returns {'missing'} (no such room/workspace), {'forbidden', i} (op i's author is not a member),
 * {'duplicate', i, version} (op i's clientOpId made that version), {'type', type}, {'stale',
 * version} (the expected version is not in the log), {'conflict', version, entry...} (the entries
 * after the expected version), or {'appended', version} (the version the last op made).
 */
export const DOC_APPEND = `${NOW_MS}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local n = tonumber(ARGV[3])
for i = 1, n do
  local member = ARGV[9 + (i - 1) * 5 + 1]
  if member ~= '' and redis.call('HEXISTS', KEYS[2], member) == 0 then return {'forbidden', i} end
end
for i = 1, n do
  local onceKey = tonumber(ARGV[9 + (i - 1) * 5 + 3])
  if onceKey > 0 then
    local prior = redis.call('GET', KEYS[onceKey])
    if prior then return {'duplicate', i, tonumber(prior)} end
  end
end
local meta = redis.call('HMGET', KEYS[3], 'type', 'version', 'logStart')
if meta[1] and meta[1] ~= ARGV[2] then return {'type', meta[1]} end
local version = tonumber(meta[2]) or 0
local logStart = tonumber(meta[3]) or 0
local expected = tonumber(ARGV[1])
if expected ~= version then
  if expected < logStart or expected > version then return {'stale', version} end
  local out = {'conflict', version}
  for _, e in ipairs(redis.call('LRANGE', KEYS[4], expected - logStart, -1)) do out[#out + 1] = e end
  return out
end
if not meta[1] then
  redis.call('HSET', KEYS[3], 'type', ARGV[2], 'version', 0, 'logStart', 0, 'snapshotVersion', 0, 'createdAt', now)
  redis.call('SADD', KEYS[6], ARGV[9])
end
for i = 1, n do
  local at = 9 + (i - 1) * 5
  version = version + 1
  redis.call('RPUSH', KEYS[4], ARGV[at + 2])
  local onceKey = tonumber(ARGV[at + 3])
  if onceKey > 0 then redis.call('SET', KEYS[onceKey], version, 'EX', ARGV[7]) end
end
redis.call('HSET', KEYS[3], 'version', version, 'updatedAt', now)
local snapshotVersion = tonumber(ARGV[4])
if snapshotVersion > 0 then
  redis.call('SET', KEYS[5], ARGV[5])
  redis.call('HSET', KEYS[3], 'snapshotVersion', snapshotVersion)
  local keepFrom = math.max(logStart, math.min(snapshotVersion, version - tonumber(ARGV[6])))
  if keepFrom > logStart then
    redis.call('LTRIM', KEYS[4], keepFrom - logStart, -1)
    redis.call('HSET', KEYS[3], 'logStart', keepFrom)
  end
end
local ttl = tonumber(ARGV[8])
if ttl > 0 then
  -- The room lives at least as long as its document; the document's keys expire with it.
  for i = 1, 2 do
    local left = redis.call('TTL', KEYS[i])
    if left >= 0 and left < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
  end
  for i = 3, 6 do redis.call('EXPIRE', KEYS[i], ttl) end
end
for i = 1, n do
  local at = 9 + (i - 1) * 5
  if ARGV[at + 4] ~= '' then redis.call('PUBLISH', ARGV[at + 4], ARGV[at + 5]) end
end
return {'appended', version}
`;

/**
 * Sets (`set`) or adds to (`inc`) a user's leaderboard score, marks the leaderboard dirty, and
 * records an achievement the write unlocks. Scores are stored negated, so ZRANGE/ZRANK order the
 * highest first and ties by user id in byte order.
 * KEYS: scores zset, dirty key, achievements set. ARGV: mode, userId, negated value or increment,
 * achievementId ('' = none), threshold ('' = none: unlocks with this write).
 * Returns { stored (negated) score, rank (1-based), unlocked (1/0), previous stored score or '' }.
 */
export const LEADERBOARD_SCORE = `
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
`;

/**
 * Creates a collaborative document at version 0 unless it exists (doc:open by someone who may edit
 * it), so the room's or workspace's document index names every document a member may have open.
 * KEYS: scope meta, scope members, doc meta, scope's document index. ARGV: member required ('' =
 * none), type, idle TTL s (0 = none), document id.
 * Returns {'missing'}, {'exists', type}, {'forbidden'} or {'created'}.
 */
export const DOC_CREATE = `${NOW_MS}
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
`;

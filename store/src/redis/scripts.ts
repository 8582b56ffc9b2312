/**
 * Lua scripts of the Redis stores. Each runs atomically on one slot: the keys it touches share
 * a hash tag. Times come from the Redis clock so writers with skewed clocks (nodes, the emitter)
 * agree.
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

/** KEYS: nodes zset, node-info hash. ARGV: nodeId, info JSON. Returns now. */
export const HEARTBEAT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
local info = cjson.decode(ARGV[2])
info['lastHeartbeat'] = now
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(info))
return now
`;

/** KEYS: nodes zset, node-info hash. ARGV: timeoutMs. Returns info JSON of live nodes. */
export const LIVE_NODES = `${NOW_MS}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`;

/** KEYS: nodes zset. ARGV: timeoutMs. Returns ids of nodes whose heartbeat expired. */
export const EXPIRED_NODES = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
`;

/** KEYS: nodes zset, sweep lease key. ARGV: nodeId, timeoutMs, leaseMs. Returns 1 when claimed. */
export const CLAIM_SWEEP = `${NOW_MS}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > now - tonumber(ARGV[2]) then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return 1 end
return 0
`;

/**
 * Presence scripts share KEYS: user devices hash (`deviceId|sessionId` -> nodeId), user presence
 * hash (status, message, lastSeen, rev). A change raises rev and answers the new presence as
 * {rev, status, message, lastSeen, device...}; no change answers nothing, so each change is
 * announced exactly once, by the node that made it.
 */
const PRESENCE_LIB = `${NOW_MS}
-- seen: device -> its sessions; list: the distinct devices.
local function distinct_devices()
  local seen, list = {}, {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local device = string.match(field, '^([^|]+)|')
    if device then
      if not seen[device] then list[#list + 1] = device end
      seen[device] = (seen[device] or 0) + 1
    end
  end
  return seen, list
end
local function snapshot()
  local _, list = distinct_devices()
  local p = redis.call('HMGET', KEYS[2], 'rev', 'status', 'message', 'lastSeen')
  local out = { tonumber(p[1]) or 0, p[2] or 'online', p[3] or '', p[4] or '' }
  for _, device in ipairs(list) do out[#out + 1] = device end
  return out
end
local function changed(ttl)
  redis.call('HSET', KEYS[2], 'lastSeen', now)
  -- rev follows the clock, so it keeps growing even after an expired presence starts over.
  local rev = math.max((tonumber(redis.call('HGET', KEYS[2], 'rev')) or 0) + 1, now)
  redis.call('HSET', KEYS[2], 'rev', rev)
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PERSIST', KEYS[2]) else redis.call('EXPIRE', KEYS[2], ttl) end
  return snapshot()
end
`;

/**
 * ARGV: deviceId, sessionId, nodeId, device limit, sessions-per-device limit. Refused: {0,
 * distinct devices} or {0, distinct devices, sessions of this device}. Added: {1} when the device
 * was already connected, else {1, presence...}.
 */
export const ACQUIRE_DEVICE = `${PRESENCE_LIB}
local seen, list = distinct_devices()
if not seen[ARGV[1]] and #list >= tonumber(ARGV[4]) then return { 0, #list } end
if seen[ARGV[1]] and seen[ARGV[1]] >= tonumber(ARGV[5]) then return { 0, #list, seen[ARGV[1]] } end
redis.call('HSET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
if seen[ARGV[1]] then return { 1 } end
local out = changed(0)
table.insert(out, 1, 1)
return out
`;

/**
 * ARGV: ttlS, then `deviceId|sessionId` fields. Answers {released} when no device went away,
 * else {released, presence...}.
 */
export const RELEASE_DEVICES = `${PRESENCE_LIB}
local before = distinct_devices()
local released = 0
for i = 2, #ARGV do released = released + redis.call('HDEL', KEYS[1], ARGV[i]) end
if released == 0 then return { 0 } end
local after = distinct_devices()
for device in pairs(before) do
  if not after[device] then
    local out = changed(tonumber(ARGV[1]))
    table.insert(out, 1, released)
    return out
  end
end
return { released }
`;

/** ARGV: status, message ('' = none), ttlS. Answers {} when nothing changed, else the presence. */
export const SET_STATUS = `${PRESENCE_LIB}
local current = redis.call('HMGET', KEYS[2], 'status', 'message')
if (current[1] or 'online') == ARGV[1] and (current[2] or '') == ARGV[2] then return {} end
redis.call('HSET', KEYS[2], 'status', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[2], 'message') else redis.call('HSET', KEYS[2], 'message', ARGV[2]) end
return changed(tonumber(ARGV[3]))
`;

/** Answers the presence as stored. */
export const READ_PRESENCE = `${PRESENCE_LIB}
return snapshot()
`;

/**
 * KEYS: room meta, room members, room history. ARGV: idleTtlS, record JSON, then userId/member
 * JSON pairs. Returns 0 when the id is taken; a new room starts with an empty history.
 */
export const CREATE_ROOM = `
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return 1
`;

/** KEYS: room meta, room members. ARGV: userId, member JSON, idleTtlS. Returns the outcome. */
export const ADD_MEMBER = `
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
`;

/**
 * The rooms a user created, counted against their quota: a hash on the user's slot, room id ->
 * `p:<reservedAt>:<token>` while a create is under way, `c:<token>` once the room exists. The
 * room's own keys live on another slot, so a create reserves here first, then creates the room.
 *
 * KEYS: the user's created-rooms hash. ARGV: limit, room id, token, graceMs, then room id /
 * value pairs found stale (the room is gone or no longer the user's). A stale entry is dropped
 * while it still holds that value, unless it is a reservation younger than graceMs (its create
 * may still be running). Answers {'ok', value}, {'exists'} when the user holds an entry for the
 * id already, or {'quota', count}.
 */
export const RESERVE_CREATED_ROOM = `${NOW_MS}
for i = 5, #ARGV, 2 do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value == ARGV[i + 1] then
    local reservedAt = string.match(value, '^p:(%d+):')
    if not reservedAt or tonumber(reservedAt) <= now - tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], ARGV[i]) end
  end
end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return {'exists'} end
local count = redis.call('HLEN', KEYS[1])
if count >= tonumber(ARGV[1]) then return {'quota', count} end
local value = 'p:' .. now .. ':' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[2], value)
return {'ok', value}
`;

/** KEYS: a hash. ARGV: field, value. Deletes the field only while it holds that value. */
export const HDEL_IF_EQUAL = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;


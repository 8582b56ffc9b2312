/**
 * Lua scripts of the inbox, delivery state and push devices. Every key of one user shares the
 * hash tag `{u:<tenant>:<user>}`, so each script runs atomically on one slot, also on a Redis Cluster.
 */
import { NOW_MS } from "./scripts";

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

/** KEYS: inbox keys. ARGV: unreadOnly (0/1), limit. Returns JSON, read flag pairs, newest first. */
export const INBOX_LIST = `${DROP_EXPIRED}
local out = {}
local limit = tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[2], 0, -1)) do
  local read = redis.call('SISMEMBER', KEYS[4], id)
  if ARGV[1] == '0' or read == 0 then
    out[#out + 1] = redis.call('HGET', KEYS[1], id)
    out[#out + 1] = read
    if #out >= limit * 2 then break end
  end
end
return out
`;

/** KEYS: inbox keys. ARGV: id. Returns {JSON, read flag} or {}. */
export const INBOX_GET = `${DROP_EXPIRED}
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {} end
return { json, redis.call('SISMEMBER', KEYS[4], ARGV[1]) }
`;

/** KEYS: inbox keys. ARGV: id. Returns 1 when marked, 0 when not in the inbox. */
export const INBOX_MARK_READ = `${DROP_EXPIRED}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[4], ARGV[1])
return 1
`;

/**
 * Delivery state scripts. KEYS: inbox keys, then the notification's delivery hash. Writes give the
 * delivery hash the notification's own expiry.
 */
const DELIVERY_LIB = `${DROP_EXPIRED}
local expires = redis.call('ZSCORE', KEYS[3], ARGV[1])
local function touched()
  if expires then redis.call('PEXPIREAT', KEYS[5], expires) end
end
`;

/** ARGV: id. Returns 1 when acked now or before, 0 when not in the inbox. */
export const DELIVERY_ACK = `${DELIVERY_LIB}
if not expires then return 0 end
redis.call('HSET', KEYS[5], 'acked', 1)
touched()
return 1
`;

/** ARGV: id, at. Returns the first emission time (this one unless an earlier owner emitted). */
export const DELIVERY_EMITTED = `${DELIVERY_LIB}
if not expires then return ARGV[2] end
redis.call('HSETNX', KEYS[5], 'emittedAt', ARGV[2])
touched()
return redis.call('HGET', KEYS[5], 'emittedAt')
`;

/** KEYS: inbox keys, delivery hash, lease key. ARGV: id, deviceId, leaseMs. */
export const DELIVERY_CLAIM_PUSH = `${DELIVERY_LIB}
if redis.call('HEXISTS', KEYS[5], 'sent:' .. ARGV[2]) == 1 then return 'sent' end
if redis.call('SET', KEYS[6], '1', 'NX', 'PX', ARGV[3]) then return 'claimed' end
return 'busy'
`;

/** KEYS: inbox keys, delivery hash, lease key. ARGV: id, deviceId. */
export const DELIVERY_PUSH_SENT = `${DELIVERY_LIB}
redis.call('HSET', KEYS[5], 'sent:' .. ARGV[2], 1)
redis.call('DEL', KEYS[6])
touched()
return 1
`;

/**
 * KEYS: push devices hash. ARGV: id, device JSON, address, max. The address (platform + token or
 * endpoint) identifies a device. Returns {id, 1} when registered, {id, 0} when known, {} when full.
 */
export const PUSH_REGISTER = `
local all = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #all, 2 do
  count = count + 1
  local d = cjson.decode(all[i + 1])
  local address = d.platform == 'webpush' and ('webpush|' .. d.subscription.endpoint) or (d.platform .. '|' .. d.token)
  if address == ARGV[3] then return { all[i], 0 } end
end
if count >= tonumber(ARGV[4]) then return {} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { ARGV[1], 1 }
`;

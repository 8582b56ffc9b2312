/**
 * Lua scripts of the inbox, delivery state and push devices. Every key of one user shares the
 * hash tag `{u:<tenant>:<user>}`, so each script runs atomically on one slot, also on a Redis Cluster.
 */
import { DROP_EXPIRED, INBOX_PUT } from "@switchboard/shared";

/** The emitter files notifications in the inbox too, so these two live in @switchboard/shared. */
export { DROP_EXPIRED, INBOX_PUT };

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

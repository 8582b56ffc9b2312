import { createHash } from "node:crypto";
import type { RedisClient } from "./clients";

/**
 * Lua scripts of the Redis engine. Each runs atomically on one slot: the keys it touches share
 * a hash tag. Times come from the Redis clock so nodes with skewed clocks agree.
 */
export const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
 * KEYS: user devices hash. ARGV: deviceId, sessionId, nodeId, limit.
 * Returns -1 when the session was added, else the number of distinct devices (refused).
 */
export const ACQUIRE_DEVICE = `
local fields = redis.call('HKEYS', KEYS[1])
local seen = {}
local count = 0
for _, field in ipairs(fields) do
  local device = string.match(field, '^([^|]+)|')
  if device and not seen[device] then
    seen[device] = true
    count = count + 1
  end
end
if not seen[ARGV[1]] and count >= tonumber(ARGV[4]) then return count end
redis.call('HSET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
return -1
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

/** A script sent once per server and then run by its SHA (EVALSHA, falling back to EVAL). */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: RedisClient, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

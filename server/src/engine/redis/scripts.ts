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

/** A script sent once per server and then run by its SHA (EVALSHA, falling back to EVAL). */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

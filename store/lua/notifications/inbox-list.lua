-- Lists a user's inbox, newest first.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- ARGV[1]  unreadOnly (0/1)
-- ARGV[2]  limit
--
-- Returns JSON, read flag pairs, newest first.
--#include lib/inbox.lua
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

-- What the delivery state scripts share: the inbox keys, then the notification's delivery hash.
-- Writes give the delivery hash the notification's own expiry.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- KEYS[5]  the notification's delivery hash
-- ARGV[1]  notification id
--
-- Defines now and drop(id) (lib/inbox.lua), expires (the notification's expiry; nil when it is not
-- in the inbox) and touched().
--#include lib/inbox.lua
local expires = redis.call('ZSCORE', KEYS[3], ARGV[1])
local function touched()
  if expires then redis.call('PEXPIREAT', KEYS[5], expires) end
end

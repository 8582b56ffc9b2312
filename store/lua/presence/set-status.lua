-- Sets a user's status and status message.
--
-- KEYS[1..3]  the user's devices hash, presence hash and rooms (see lib/presence.lua)
-- ARGV[1]  status
-- ARGV[2]  message ('' = none)
-- ARGV[3]  ttlS
--
-- Returns {} when nothing changed, else the presence.
--#include lib/presence.lua
local user = user_keys(1)
local current = redis.call('HMGET', user.presence, 'status', 'message')
if (current[1] or 'online') == ARGV[1] and (current[2] or '') == ARGV[2] then return {} end
redis.call('HSET', user.presence, 'status', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', user.presence, 'message') else redis.call('HSET', user.presence, 'message', ARGV[2]) end
return changed(user, tonumber(ARGV[3]))

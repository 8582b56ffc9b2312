-- Sets a user's status and status message.
--
-- KEYS[1]  user devices hash (see lib/presence.lua)
-- KEYS[2]  user presence hash
-- KEYS[3]  the user's rooms (see lib/presence.lua)
-- ARGV[1]  status
-- ARGV[2]  message ('' = none)
-- ARGV[3]  ttlS
--
-- Returns {} when nothing changed, else the presence.
--#include lib/presence.lua
local current = redis.call('HMGET', KEYS[2], 'status', 'message')
if (current[1] or 'online') == ARGV[1] and (current[2] or '') == ARGV[2] then return {} end
redis.call('HSET', KEYS[2], 'status', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[2], 'message') else redis.call('HSET', KEYS[2], 'message', ARGV[2]) end
return changed(tonumber(ARGV[3]))

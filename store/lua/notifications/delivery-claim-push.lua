-- Claims the push of a notification to one device.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- KEYS[5]  delivery hash
-- KEYS[6]  lease key
-- ARGV[1]  id
-- ARGV[2]  deviceId
-- ARGV[3]  leaseMs
--
-- Returns 'sent' (pushed to that device already), 'claimed' or 'busy' (another claim holds the lease).
--#include lib/delivery.lua
if redis.call('HEXISTS', KEYS[5], 'sent:' .. ARGV[2]) == 1 then return 'sent' end
if redis.call('SET', KEYS[6], '1', 'NX', 'PX', ARGV[3]) then return 'claimed' end
return 'busy'

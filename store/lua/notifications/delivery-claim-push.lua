-- Claims the push of a notification to one device. The lease records its owner node, so a
-- claimer that found that node dead (not live in the node registry, which lives on another slot)
-- takes its lease at once instead of waiting out leaseMs.
--
-- KEYS[1]  inbox hash (id -> notification JSON)
-- KEYS[2]  order zset (id by createdAt)
-- KEYS[3]  expiry zset (id by expiresAt)
-- KEYS[4]  read set
-- KEYS[5]  delivery hash
-- KEYS[6]  lease key (its value: the owner node id)
-- ARGV[1]  id
-- ARGV[2]  deviceId
-- ARGV[3]  leaseMs
-- ARGV[4]  owner (this claimer's node id)
-- ARGV[5]  a dead node whose lease may be taken over ('' for none)
--
-- Returns {'sent'} (pushed to that device already), {'claimed'}, or {'busy', owner} (another
-- claim holds the lease: the lease is live and not held by ARGV[5]).
--#include lib/delivery.lua
if redis.call('HEXISTS', KEYS[5], 'sent:' .. ARGV[2]) == 1 then return {'sent'} end
local holder = redis.call('GET', KEYS[6])
if holder and (ARGV[5] == '' or holder ~= ARGV[5]) then return {'busy', holder} end
redis.call('SET', KEYS[6], ARGV[4], 'PX', ARGV[3])
return {'claimed'}

-- Gives a created-rooms reservation back: deletes a hash field only while it holds that value,
-- so an entry pruned and reserved again meanwhile stays.
--
-- KEYS[1]  a hash (the user's created-rooms hash)
-- ARGV[1]  field
-- ARGV[2]  value
--
-- Returns 1 when deleted, else 0.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0

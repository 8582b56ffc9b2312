-- Adds a member to a workspace.
--
-- KEYS[1]  workspace meta
-- KEYS[2]  workspace members
-- ARGV[1]  userId
-- ARGV[2]  member JSON
--
-- Returns 'missing', 'added' or 'present'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then return 'added' end
return 'present'

-- Appends ops to a collaborative document's log, atomically with the version check, and
-- SPUBLISHes each on the Socket.IO sharded adapter's channel of the document (on a Redis Cluster
-- the document's Socket.IO name carries the hash tag of its keys, so its channel is on this
-- script's slot). The caller transformed the ops, in order, to follow
-- the version it believes current; when another writer appended first the script refuses with
-- the entries since, and the caller transforms again and retries. A node appends the ops it
-- received meanwhile together (the emitter one at a time): all or none.
--
-- KEYS[1]  scope meta (room or workspace)
-- KEYS[2]  scope members
-- KEYS[3]  doc meta
-- KEYS[4]  doc log
-- KEYS[5]  doc snapshot
-- KEYS[6]  scope's document index
-- KEYS[7..] the once keys of the ops that have a clientOpId
-- ARGV[1]  expected version
-- ARGV[2]  type
-- ARGV[3]  op count N
-- ARGV[4]  snapshot version (0 = none)
-- ARGV[5]  snapshot JSON
-- ARGV[6]  log keep
-- ARGV[7]  once TTL s
-- ARGV[8]  idle TTL s (0 = the document never expires; else the document and its room expire together)
-- ARGV[9]  document id
-- ARGV[10] adapter channel ('' = no publish)
-- ARGV[11..] per op, 4 values: member required ('' = none), entry JSON, its once key's index in KEYS
--            (0 = none), adapter frame
--
-- Returns {'missing'} (no such room/workspace), {'forbidden', i} (op i's author is not a member),
-- {'duplicate', i, version} (op i's clientOpId made that version), {'type', type}, {'stale',
-- version} (the expected version is not in the log), {'conflict', version, entry...} (the entries
-- after the expected version), or {'appended', version} (the version the last op made).
--#include lib/now.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local n = tonumber(ARGV[3])
for i = 1, n do
  local member = ARGV[10 + (i - 1) * 4 + 1]
  if member ~= '' and redis.call('HEXISTS', KEYS[2], member) == 0 then return {'forbidden', i} end
end
for i = 1, n do
  local onceKey = tonumber(ARGV[10 + (i - 1) * 4 + 3])
  if onceKey > 0 then
    local prior = redis.call('GET', KEYS[onceKey])
    if prior then return {'duplicate', i, tonumber(prior)} end
  end
end
local meta = redis.call('HMGET', KEYS[3], 'type', 'version', 'logStart')
if meta[1] and meta[1] ~= ARGV[2] then return {'type', meta[1]} end
local version = tonumber(meta[2]) or 0
local logStart = tonumber(meta[3]) or 0
local expected = tonumber(ARGV[1])
if expected ~= version then
  if expected < logStart or expected > version then return {'stale', version} end
  local out = {'conflict', version}
  for _, e in ipairs(redis.call('LRANGE', KEYS[4], expected - logStart, -1)) do out[#out + 1] = e end
  return out
end
if not meta[1] then
  redis.call('HSET', KEYS[3], 'type', ARGV[2], 'version', 0, 'logStart', 0, 'snapshotVersion', 0, 'createdAt', now)
  redis.call('SADD', KEYS[6], ARGV[9])
end
for i = 1, n do
  local at = 10 + (i - 1) * 4
  version = version + 1
  redis.call('RPUSH', KEYS[4], ARGV[at + 2])
  local onceKey = tonumber(ARGV[at + 3])
  if onceKey > 0 then redis.call('SET', KEYS[onceKey], version, 'EX', ARGV[7]) end
end
redis.call('HSET', KEYS[3], 'version', version, 'updatedAt', now)
local snapshotVersion = tonumber(ARGV[4])
if snapshotVersion > 0 then
  redis.call('SET', KEYS[5], ARGV[5])
  redis.call('HSET', KEYS[3], 'snapshotVersion', snapshotVersion)
  local keepFrom = math.max(logStart, math.min(snapshotVersion, version - tonumber(ARGV[6])))
  if keepFrom > logStart then
    redis.call('LTRIM', KEYS[4], keepFrom - logStart, -1)
    redis.call('HSET', KEYS[3], 'logStart', keepFrom)
  end
end
local ttl = tonumber(ARGV[8])
if ttl > 0 then
  -- The room lives at least as long as its document; the document's keys expire with it.
  for i = 1, 2 do
    local left = redis.call('TTL', KEYS[i])
    if left >= 0 and left < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
  end
  for i = 3, 6 do redis.call('EXPIRE', KEYS[i], ttl) end
end
if ARGV[10] ~= '' then
  for i = 1, n do redis.call('SPUBLISH', ARGV[10], ARGV[10 + (i - 1) * 4 + 4]) end
end
return {'appended', version}

-- Reads a collaborative document. The log holds the entries logStart+1 … version, and
-- logStart <= snapshotVersion. A document's keys share the hash tag of its room or workspace.
--
-- KEYS[1]  doc meta
-- KEYS[2]  doc log
-- KEYS[3]  doc snapshot
-- ARGV[1]  the version the caller has (-1: none)
--
-- Returns {} for no document; {'ops', type, version, entry...} with the entries after that version
-- when the log still holds them; else {'snapshot', type, version, snapshotVersion, snapshot JSON
-- ('' = the type's empty document), entry...} with the entries after the snapshot.
local meta = redis.call('HMGET', KEYS[1], 'type', 'version', 'logStart', 'snapshotVersion')
if not meta[1] then return {} end
local version, logStart, snapshotVersion = tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4])
local from = tonumber(ARGV[1])
if from >= logStart and from <= version then
  local out = { 'ops', meta[1], version }
  if from < version then
    for _, e in ipairs(redis.call('LRANGE', KEYS[2], from - logStart, -1)) do out[#out + 1] = e end
  end
  return out
end
local out = { 'snapshot', meta[1], version, snapshotVersion, redis.call('GET', KEYS[3]) or '' }
if snapshotVersion < version then
  for _, e in ipairs(redis.call('LRANGE', KEYS[2], snapshotVersion - logStart, -1)) do out[#out + 1] = e end
end
return out

-- Stores a message and SPUBLISHes it on the Socket.IO sharded adapter's channel of the room in one
-- step (on a Redis Cluster the room's Socket.IO name carries the hash tag of its keys, so its
-- channel is on this script's slot).
-- Each message gets the next position of the room's history: seq (1, 2, 3, … with no hole) in an
-- epoch. Both are read from the history's newest entry, so they live exactly as long as the
-- history: when it is gone (expired, deleted, a Redis that restarted empty), the next message
-- starts a new epoch at seq 1.
-- The frame is the adapter's JSON packet (store/src/frames.ts messageFrame) around the message:
-- its id, seq and epoch made here, its room, then the stored JSON itself, so what is delivered is
-- what is stored.
--
-- KEYS[1]  room meta
-- KEYS[2]  room members
-- KEYS[3]  room history
-- KEYS[4]  publish-once key (the history key when unused)
-- ARGV[1]  member required ('' = none)
-- ARGV[2]  stored message JSON
-- ARGV[3]  history size
-- ARGV[4]  history TTL s
-- ARGV[5]  idle TTL s
-- ARGV[6]  use publish-once ('1'/'0')
-- ARGV[7]  a fresh epoch, used when a new one starts
-- ARGV[8]  adapter channel ('' = no publish)
-- ARGV[9]  the frame's head (up to the message's `{"id":`)
-- ARGV[10] the message's `,"room":…,` (after its epoch, before the stored fields)
-- ARGV[11] the frame's tail (after the message)
--
-- Returns {'missing'}, {'forbidden'}, {'duplicate', id, seq, epoch} (seq and epoch absent for a
-- publish-once key written before positions existed) or {'published', id, seq, epoch}.
--#include lib/now.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if ARGV[1] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {'forbidden'} end
if ARGV[6] == '1' then
  local prior = redis.call('GET', KEYS[4])
  if prior then
    local id, seq, epoch = string.match(prior, '^(%S+) (%d+) (%S+)$')
    if id then return {'duplicate', id, tonumber(seq), epoch} end
    return {'duplicate', prior}
  end
end
local seq, epoch = 1, ARGV[7]
local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
if newest then
  local fields = newest[2]
  local s, e
  for i = 1, #fields, 2 do
    if fields[i] == 's' then s = tonumber(fields[i + 1]) elseif fields[i] == 'e' then e = fields[i + 1] end
  end
  if s and e then seq, epoch = s + 1, e end
end
local seqText = string.format('%d', seq)
local ttl = tonumber(ARGV[4])
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[2], 's', seqText, 'e', epoch)
redis.call('XTRIM', KEYS[3], 'MINID', '~', now - ttl * 1000)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
if ARGV[6] == '1' then redis.call('SET', KEYS[4], id .. ' ' .. seqText .. ' ' .. epoch, 'EX', ttl) end
if ARGV[8] ~= '' then
  -- The id ('<ms>-<n>') and the epoch (hex) need no escaping; ARGV[2] is a JSON object.
  redis.call('SPUBLISH', ARGV[8], ARGV[9] .. '"' .. id .. '","seq":' .. seqText .. ',"epoch":"' .. epoch .. '"' .. ARGV[10] .. string.sub(ARGV[2], 2) .. ARGV[11])
end
return {'published', id, seq, epoch}

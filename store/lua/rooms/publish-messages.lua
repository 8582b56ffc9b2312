-- Stores messages published into one room and SPUBLISHes each on the Socket.IO sharded adapter's
-- channel of the room, in one step (on a Redis Cluster the room's Socket.IO name carries the hash
-- tag of its keys, so its channel is on this script's slot). The messages are those a process
-- published into the room in one turn (store/src/redis/rooms.ts), in the order they were
-- published; each is answered on its own, as if it had been published alone, in that order.
-- A call that fails answers none of them (the process reports every one as failed); as Redis
-- keeps what a script wrote before the command that failed, a message stored before it stays
-- stored and delivered, and its retry with the same clientMsgId is answered as a duplicate.
-- Each message gets the next position of the room's history: seq (1, 2, 3, … with no hole) in an
-- epoch. Both are read from the history's newest entry, so they live exactly as long as the
-- history: when it is gone (expired, deleted, a Redis that restarted empty), the next message
-- starts a new epoch at seq 1.
-- The frame is the adapter's JSON packet (store/src/frames.ts messageFrame) around the message:
-- its id, seq and epoch made here, its room, then the stored JSON itself, so what is delivered is
-- what is stored.
--
-- KEYS[1]    room meta
-- KEYS[2]    room members
-- KEYS[3]    room history
-- KEYS[3+i]  message i's publish-once key (the history key when it has none)
-- ARGV[1]    history size
-- ARGV[2]    history TTL s
-- ARGV[3]    idle TTL s
-- ARGV[4]    a fresh epoch, used when a new one starts
-- ARGV[5]    adapter channel ('' = no publish)
-- ARGV[6]    the frame's head (up to the message's `{"id":`)
-- ARGV[7]    the message's `,"room":…,` (after its epoch, before the stored fields)
-- ARGV[8]    the frame's tail (after the message)
-- then three per message i, from ARGV[9]:
--            member required ('' = none), stored message JSON, use its publish-once key ('1'/'0')
--
-- Returns one answer per message, in order: {'missing'}, {'forbidden'}, {'duplicate', id, seq,
-- epoch} (seq and epoch absent for a publish-once key written before positions existed) or
-- {'published', id, seq, epoch}.
--#include lib/now.lua
local count = (#ARGV - 8) / 3
local answers = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 1, count do answers[i] = {'missing'} end
  return answers
end
local ttl = tonumber(ARGV[2])
-- Membership is read once per sender; seq and epoch once, at the first message stored.
local member = {}
local seq, epoch
local published = false
for i = 1, count do
  local sender, stored, once = ARGV[6 + 3 * i], ARGV[7 + 3 * i], ARGV[8 + 3 * i] == '1'
  if sender ~= '' and member[sender] == nil then member[sender] = redis.call('HEXISTS', KEYS[2], sender) == 1 end
  local prior = false
  if sender ~= '' and not member[sender] then
    answers[i] = {'forbidden'}
  else
    if once then prior = redis.call('GET', KEYS[3 + i]) end
    if prior then
      local id, s, e = string.match(prior, '^(%S+) (%d+) (%S+)$')
      if id then answers[i] = {'duplicate', id, tonumber(s), e} else answers[i] = {'duplicate', prior} end
    else
      if seq then
        seq = seq + 1
      else
        seq, epoch = 1, ARGV[4]
        local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
        if newest then
          local fields = newest[2]
          local s, e
          for f = 1, #fields, 2 do
            if fields[f] == 's' then s = tonumber(fields[f + 1]) elseif fields[f] == 'e' then e = fields[f + 1] end
          end
          if s and e then seq, epoch = s + 1, e end
        end
      end
      local seqText = string.format('%d', seq)
      local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', 'm', stored, 's', seqText, 'e', epoch)
      if once then redis.call('SET', KEYS[3 + i], id .. ' ' .. seqText .. ' ' .. epoch, 'EX', ttl) end
      if ARGV[5] ~= '' then
        -- The id ('<ms>-<n>') and the epoch (hex) need no escaping; the stored message is a JSON object.
        redis.call('SPUBLISH', ARGV[5], ARGV[6] .. '"' .. id .. '","seq":' .. seqText .. ',"epoch":"' .. epoch .. '"' .. ARGV[7] .. string.sub(stored, 2) .. ARGV[8])
      end
      answers[i] = {'published', id, seq, epoch}
      published = true
    end
  end
end
if published then
  redis.call('XTRIM', KEYS[3], 'MINID', '~', now - ttl * 1000)
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return answers

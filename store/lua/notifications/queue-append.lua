-- Appends a notification to the nodes' queue; with a `clientNotifyId`, once per user and id while
-- the notification lives.
--
-- KEYS[1]  queue stream
-- KEYS[2]  once key (the queue key when unused)
-- ARGV[1]  notification JSON
-- ARGV[2]  the queue's approximate max length
-- ARGV[3]  use the once key ('1'/'0')
-- ARGV[4]  notification id
-- ARGV[5]  once TTL ms
--
-- Returns {'queued'} or {'duplicate', id}: the id an earlier request with the same clientNotifyId
-- queued, when nothing was appended.
if ARGV[3] == '1' then
  local prior = redis.call('GET', KEYS[2])
  if prior then return {'duplicate', prior} end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'n', ARGV[1])
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5]) end
return {'queued'}

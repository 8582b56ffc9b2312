-- Registers a push device of a user. The address (platform + token or endpoint) identifies a device.
--
-- KEYS[1]  push devices hash
-- ARGV[1]  id
-- ARGV[2]  device JSON
-- ARGV[3]  address
-- ARGV[4]  max
--
-- Returns {id, 1} when registered, {id, 0} when known, {} when full.
local all = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #all, 2 do
  count = count + 1
  local d = cjson.decode(all[i + 1])
  local address = d.platform == 'webpush' and ('webpush|' .. d.subscription.endpoint) or (d.platform .. '|' .. d.token)
  if address == ARGV[3] then return { all[i], 0 } end
end
if count >= tonumber(ARGV[4]) then return {} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { ARGV[1], 1 }

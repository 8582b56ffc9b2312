-- Every bucket of every window, read at one instant.
--
-- KEYS[1..] (bucket hash, values list) pairs
--
-- Returns { now, {count, sum, min, max, {values...}} or {} per bucket }.
--#include lib/now.lua
local out = {}
for i = 1, #KEYS, 2 do
  local h = redis.call('HMGET', KEYS[i], 'count', 'sum', 'min', 'max')
  if h[1] then
    out[#out + 1] = { h[1], h[2], h[3], h[4], redis.call('LRANGE', KEYS[i + 1], 0, -1) }
  else
    out[#out + 1] = {}
  end
end
return { now, out }

-- Acks points and aggregates those still pending, in one step: XACK answers 1 only for an entry
-- that was pending, so an entry held by two consumers (one claimed it from the other) counts once.
-- A bucket hash holds count, sum, min, max; its list a uniform sample of its values (reservoir).
-- The keys of one stream share a hash tag.
--
-- KEYS[1]  points stream
-- KEYS[2]  dirty
-- KEYS[3..] a (bucket hash, bucket values list) pair per bucket
-- ARGV[1]  group
-- ARGV[2]  sample size
-- ARGV[3]  random seed
-- ARGV[4]  n
-- ARGV[5..] n (id, value) pairs, then per bucket: expireAt ms, k, and the k (1-based) indexes of its points
--
-- Returns how many entries were acked now.
local n = tonumber(ARGV[4])
local fresh = {}
local acked = 0
for i = 1, n do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[3 + 2 * i]) == 1 then
    fresh[i] = true
    acked = acked + 1
  end
end
local cap = tonumber(ARGV[2])
local seed = tonumber(ARGV[3])
local function random(m)
  seed = (seed * 16807) % 2147483647
  return (seed % m) + 1
end
local p = 5 + 2 * n
local b = 0
while p <= #ARGV do
  local hash, list = KEYS[3 + 2 * b], KEYS[4 + 2 * b]
  local expireAt = ARGV[p]
  local k = tonumber(ARGV[p + 1])
  p = p + 2
  local h = redis.call('HMGET', hash, 'count', 'sum', 'min', 'max')
  local count = tonumber(h[1]) or 0
  local sum = tonumber(h[2]) or 0
  local min, max = h[3], h[4]
  local before = count
  for j = 0, k - 1 do
    local idx = tonumber(ARGV[p + j])
    if fresh[idx] then
      local text = ARGV[4 + 2 * idx]
      local v = tonumber(text)
      count = count + 1
      sum = sum + v
      if not min or v < tonumber(min) then min = text end
      if not max or v > tonumber(max) then max = text end
      if count <= cap then
        redis.call('RPUSH', list, text)
      else
        local r = random(count)
        if r <= cap then redis.call('LSET', list, r - 1, text) end
      end
    end
  end
  p = p + k
  if count > before then
    redis.call('HSET', hash, 'count', count, 'sum', string.format('%.17g', sum), 'min', min, 'max', max)
    redis.call('PEXPIREAT', hash, expireAt)
    redis.call('PEXPIREAT', list, expireAt)
  end
  b = b + 1
end
if acked > 0 then redis.call('SET', KEYS[2], '1') end
return acked

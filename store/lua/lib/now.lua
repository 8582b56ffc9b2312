-- Sets `now`: the Redis clock in ms. Scripts take their time from Redis, so writers with
-- skewed clocks (nodes, the emitter) agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

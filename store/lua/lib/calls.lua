-- What the scripts that serve several callers in one run share (a node's handshakes or releases
-- of one turn): each caller's part runs as if alone, under pcall, so a command failing on one
-- caller's keys (WRONGTYPE) answers that caller with the error and the others go on. Writes that
-- part made before it failed stay.
--
-- Defines each_call(n, call): call(i) for i = 1..n in order, and their replies in that order.
local function each_call(n, call)
  local replies = {}
  for i = 1, n do
    local ok, reply = pcall(call, i)
    if ok then
      replies[i] = reply
    else
      replies[i] = redis.error_reply(type(reply) == 'table' and reply.err or tostring(reply))
    end
  end
  return replies
end

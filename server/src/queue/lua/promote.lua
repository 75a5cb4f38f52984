-- Moves retries whose backoff has passed from scheduled to the tail of ready.
-- KEYS: 1 scheduled, 2 ready
-- ARGV: 1 prefix, 2 limit
-- Returns {promoted count}
local prefix = ARGV[1]
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local promoted = 0
for _, tid in ipairs(due) do
  redis.call('ZREM', KEYS[1], tid)
  local tkey = prefix .. 'task:' .. tid
  local job = redis.call('HGET', tkey, 'job')
  if job then
    local js = redis.call('HGET', prefix .. 'job:' .. job, 'state')
    if (not js) or is_terminal(js) then
      redis.call('HSET', tkey, 'state', 'cancelled')
    else
      redis.call('HSET', tkey, 'state', 'ready', 'queued_ms', now)
      redis.call('RPUSH', KEYS[2], tid)
      promoted = promoted + 1
    end
  end
end
return {tostring(promoted)}

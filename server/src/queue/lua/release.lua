-- Hands a leased task back (graceful shutdown): to the head of ready, attempt not counted.
-- KEYS: 1 task, 2 job, 3 leased, 4 ready, 5 stats
-- ARGV: 1 task id, 2 token
-- Returns {'released'} | {'discarded'} | {'stale'}
local t = redis.call('HMGET', KEYS[1], 'state', 'token')
if t[1] ~= 'leased' or t[2] ~= ARGV[2] then
  return stale(KEYS[5])
end
redis.call('ZREM', KEYS[3], ARGV[1])
local js = redis.call('HGET', KEYS[2], 'state')
if (not js) or is_terminal(js) then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
  return {'discarded'}
end
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('HSET', KEYS[1], 'state', 'ready', 'queued_ms', now_ms())
redis.call('LPUSH', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'released', 1)
return {'released'}

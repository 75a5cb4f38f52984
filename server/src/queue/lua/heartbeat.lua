-- Extends a lease iff the caller still holds it; tells the worker to stop if the job ended.
-- KEYS: 1 task, 2 job, 3 leased, 4 stats
-- ARGV: 1 task id, 2 token, 3 lease ms
-- Returns {'ok'} | {'stop'} | {'stale'}
local t = redis.call('HMGET', KEYS[1], 'state', 'token')
if t[1] ~= 'leased' or t[2] ~= ARGV[2] then
  return stale(KEYS[4])
end
local js = redis.call('HGET', KEYS[2], 'state')
if (not js) or is_terminal(js) then
  return {'stop'}
end
redis.call('ZADD', KEYS[3], 'XX', now_ms() + tonumber(ARGV[3]), ARGV[1])
return {'ok'}

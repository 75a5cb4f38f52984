-- Records a chunk's result iff the caller holds the lease; the last chunk finishes the job.
-- KEYS: 1 task, 2 job, 3 leased, 4 stats
-- ARGV: 1 task id, 2 token, 3 result reference
-- Returns {'ok'} | {'last'} | {'duplicate'} (this token already completed it: a retried write;
--       'last' again if that write finished the job)
--       | {'discarded'} (the job ended meanwhile) | {'stale'}
local t = redis.call('HMGET', KEYS[1], 'state', 'token', 'row_start', 'row_end')
if t[2] ~= ARGV[2] then
  return stale(KEYS[4])
end
if t[1] == 'done' then
  -- Tell a retried write that it finished the job, so the summary is still triggered.
  if redis.call('HGET', KEYS[2], 'last_task') == ARGV[1] then
    return {'last'}
  end
  return {'duplicate'}
end
if t[1] ~= 'leased' then
  return stale(KEYS[4])
end
local now = now_ms()
redis.call('ZREM', KEYS[3], ARGV[1])
local j = redis.call('HMGET', KEYS[2], 'state', 'chunks_total')
if (not j[1]) or is_terminal(j[1]) then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
  return {'discarded'}
end
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[3], 'finished_ms', now)
redis.call('HINCRBY', KEYS[2], 'rows_done', tonumber(t[4]) - tonumber(t[3]))
local done = redis.call('HINCRBY', KEYS[2], 'chunks_done', 1)
redis.call('HINCRBY', KEYS[4], 'completed', 1)
if done >= tonumber(j[2]) then
  redis.call('HSET', KEYS[2], 'state', 'succeeded', 'finished_ms', now, 'last_task', ARGV[1])
  record_finished(KEYS[2], now)
  return {'last'}
end
return {'ok'}

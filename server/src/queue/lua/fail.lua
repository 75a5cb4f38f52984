-- Records a failed attempt iff the caller holds the lease.
-- Retryable: back to 'scheduled' after a jittered exponential backoff, until max attempts, then
-- 'dead' (and the job fails). Permanent: the job fails at once.
-- KEYS: 1 task, 2 job, 3 leased, 4 scheduled, 5 dead, 6 ready, 7 stats
-- ARGV: 1 prefix, 2 task id, 3 token, 4 'retryable'|'permanent', 5 message, 6 max attempts,
--       7 backoff base ms, 8 backoff max ms, 9 jitter in [0, 1)
-- Returns {'retry', delay ms, attempts} | {'dead'} | {'failed'} | {'discarded'} | {'stale'}
--       | {'duplicate', task state, attempts}
local prefix, tid = ARGV[1], ARGV[2]
local t = redis.call('HMGET', KEYS[1], 'state', 'token', 'attempts', 'job', 'chunk', 'failed_token')
if t[6] == ARGV[3] and t[2] == ARGV[3] then
  -- This very attempt was already recorded (a retried write whose reply was lost).
  return {'duplicate', t[1], t[3] or '0'}
end
if t[1] ~= 'leased' or t[2] ~= ARGV[3] then
  return stale(KEYS[7])
end
redis.call('HSET', KEYS[1], 'failed_token', ARGV[3])
local now = now_ms()
redis.call('ZREM', KEYS[3], tid)
redis.call('HSET', KEYS[1], 'error', ARGV[5])
local j = redis.call('HMGET', KEYS[2], 'state', 'chunks_total')
if (not j[1]) or is_terminal(j[1]) then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
  return {'discarded'}
end
local chunks = tonumber(j[2])
if ARGV[4] == 'permanent' then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished_ms', now)
  finish_job(KEYS[2], 'failed', 'task_failed', 'chunk ' .. t[5] .. ': ' .. ARGV[5], now)
  withdraw_waiting(prefix, t[4], chunks, KEYS[6], KEYS[4])
  redis.call('HINCRBY', KEYS[7], 'failed_permanent', 1)
  return {'failed'}
end
local attempts = tonumber(t[3] or '1')
if attempts >= tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], 'state', 'dead', 'finished_ms', now)
  redis.call('ZADD', KEYS[5], now, tid)
  finish_job(KEYS[2], 'failed', 'attempts_exhausted',
    'chunk ' .. t[5] .. ' failed ' .. attempts .. ' times; last error: ' .. ARGV[5], now)
  withdraw_waiting(prefix, t[4], chunks, KEYS[6], KEYS[4])
  redis.call('HINCRBY', KEYS[7], 'dead', 1)
  return {'dead'}
end
-- "Equal jitter": half the exponential delay fixed, half random, capped.
local delay = math.min(tonumber(ARGV[8]), tonumber(ARGV[7]) * 2 ^ (attempts - 1))
delay = math.floor(delay / 2 + delay / 2 * tonumber(ARGV[9]))
redis.call('HSET', KEYS[1], 'state', 'scheduled')
redis.call('ZADD', KEYS[4], now + delay, tid)
redis.call('HINCRBY', KEYS[7], 'retried', 1)
return {'retry', tostring(delay), tostring(attempts)}

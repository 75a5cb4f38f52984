-- Gives a failed job another go: every chunk that is not done and not still leased goes back
-- to ready with fresh attempt and stall counts; the job is queued/running again.
-- A job whose results expired (RESULT_TTL) is refused: its finished chunks' blobs are gone.
-- KEYS: 1 job, 2 dead, 3 ready, 4 finished
-- ARGV: 1 prefix, 2 job id
-- Returns {'not_found'} | {'wrong_state', state} | {'requeued', count}
local prefix, job_id = ARGV[1], ARGV[2]
local j = redis.call('HMGET', KEYS[1], 'state', 'chunks_total', 'chunks_done', 'expired_ms')
if not j[1] then
  return {'not_found'}
end
if j[4] then
  return {'wrong_state', 'expired'}
end
if j[1] ~= 'failed' then
  return {'wrong_state', j[1]}
end
local count = 0
local now = now_ms()
for i = 0, tonumber(j[2]) - 1 do
  local tid = job_id .. ':' .. i
  local tkey = prefix .. 'task:' .. tid
  local st = redis.call('HGET', tkey, 'state')
  if st == 'dead' or st == 'cancelled' or st == 'failed' then
    redis.call('ZREM', KEYS[2], tid)
    redis.call('HSET', tkey, 'state', 'ready', 'attempts', 0, 'stalls', 0, 'queued_ms', now)
    redis.call('HDEL', tkey, 'error', 'finished_ms')
    redis.call('RPUSH', KEYS[3], tid)
    count = count + 1
  end
end
local state = 'queued'
if tonumber(j[3]) > 0 then
  state = 'running'
end
redis.call('HSET', KEYS[1], 'state', state)
redis.call('ZREM', KEYS[4], job_id)
redis.call('HDEL', KEYS[1], 'error', 'error_code', 'finished_ms')
return {'requeued', tostring(count)}

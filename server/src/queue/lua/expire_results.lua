-- Marks jobs whose results outlived RESULT_TTL as expired, for the result sweep
-- (jobs/expiry.rs). The job hash stays as a small tombstone (state, times, payload,
-- `expired_ms`) so the API can say "this job existed and its results expired" (410) instead
-- of "unknown" (404); its task hashes and dead-letter entries go now. The
-- job stays in `finished` until the sweep has deleted its blobs and called forget_job.lua,
-- so a sweep that dies in between retries the deletion next time (marking is idempotent).
-- KEYS: 1 finished, 2 dead
-- ARGV: 1 prefix, 2 TTL ms, 3 most jobs, 4 most task hashes to delete (a job of 20,000 chunks
--       is 20,000 DELs: the budget keeps one call from blocking Redis; at least one job is
--       always marked, the rest wait for the next call)
-- Returns {job id, payload, job id, payload, …}
local prefix = ARGV[1]
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]),
  'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local budget = tonumber(ARGV[4])
for _, id in ipairs(due) do
  if budget <= 0 then
    break
  end
  local jkey = prefix .. 'job:' .. id
  local j = redis.call('HMGET', jkey, 'state', 'chunks_total', 'payload', 'expired_ms')
  if (not j[1]) or not is_terminal(j[1]) then
    -- Requeued since (requeue_dead.lua also removes it) or already gone: not ours to expire.
    redis.call('ZREM', KEYS[1], id)
  else
    if not j[4] then
      budget = budget - tonumber(j[2] or '0')
      for i = 0, tonumber(j[2] or '0') - 1 do
        local tid = id .. ':' .. i
        redis.call('DEL', prefix .. 'task:' .. tid)
        redis.call('ZREM', KEYS[2], tid)
      end
      redis.call('HSET', jkey, 'expired_ms', now)
    end
    out[#out + 1] = id
    out[#out + 1] = j[3] or ''
  end
end
return out

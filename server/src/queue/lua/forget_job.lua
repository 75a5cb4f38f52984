-- Ends an expired job's sweep once its blobs are deleted: it leaves `finished`, its
-- idempotency key is forgotten (only now: a resubmit with the key reuses the same blob
-- prefix, which must not be deleted under the new job), and its tombstone (see
-- expire_results.lua) is kept ARGV[3] ms more, then Redis drops it and the job is unknown.
-- KEYS: 1 finished, 2 job
-- ARGV: 1 prefix, 2 job id, 3 tombstone TTL ms
-- Returns {'forgotten'} | {'not_expired'}
local j = redis.call('HMGET', KEYS[2], 'expired_ms', 'idempotency_key')
if not j[1] then
  return {'not_expired'}
end
if j[2] and j[2] ~= '' then
  local ikey = ARGV[1] .. 'idem:' .. j[2]
  -- A later job may have taken the key over; only forget it if it still names this job.
  if redis.call('HGET', ikey, 'job') == ARGV[2] then
    redis.call('DEL', ikey)
  end
end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return {'forgotten'}

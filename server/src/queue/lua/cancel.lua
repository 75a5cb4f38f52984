-- Cancels a job: waiting tasks are withdrawn at once; running ones learn it from their next
-- heartbeat and their writes are then discarded.
-- KEYS: 1 job, 2 ready, 3 scheduled
-- ARGV: 1 prefix, 2 job id
-- Returns {'not_found'} | {'finished', state} | {'cancelled', previous state}
local j = redis.call('HMGET', KEYS[1], 'state', 'chunks_total')
if not j[1] then
  return {'not_found'}
end
if is_terminal(j[1]) then
  return {'finished', j[1]}
end
finish_job(KEYS[1], 'cancelled', 'cancelled', 'cancelled by request', now_ms())
withdraw_waiting(ARGV[1], ARGV[2], tonumber(j[2]), KEYS[2], KEYS[3])
return {'cancelled', j[1]}

-- Creates a job and its chunk tasks, idempotently.
-- KEYS: 1 job, 2 idempotency key (ignored unless ARGV[6] == '1'), 3 ready, 4 stats
-- ARGV: 1 prefix, 2 job id, 3 payload, 4 rows total, 5 chunk rows, 6 use idempotency key,
--       7 idempotency TTL ms, 8 idempotency key text, 9 most ready tasks allowed (0: no cap)
-- Returns {'created', job} | {'existing', job} | {'conflict', job} | {'exists', job}
--       | {'full', ready count}
local prefix, job_id, payload = ARGV[1], ARGV[2], ARGV[3]
local rows_total, chunk_rows = tonumber(ARGV[4]), tonumber(ARGV[5])
-- The request's identity: payload and chunking. SHA-1 is fine here: it tells a client's own
-- retries from its own different requests, it is not a security boundary.
local fingerprint = redis.sha1hex(ARGV[4] .. '\n' .. ARGV[5] .. '\n' .. payload)
if ARGV[6] == '1' then
  local seen = redis.call('HMGET', KEYS[2], 'job', 'fingerprint')
  if seen[1] then
    if seen[2] == fingerprint then
      return {'existing', seen[1]}
    end
    return {'conflict', seen[1]}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists', job_id}
end
local chunks = math.ceil(rows_total / chunk_rows)
local cap = tonumber(ARGV[9])
if cap > 0 then
  local ready = redis.call('LLEN', KEYS[3])
  if ready + chunks > cap then
    return {'full', tostring(ready)}
  end
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'queued', 'payload', payload, 'rows_total', rows_total,
  'chunk_rows', chunk_rows, 'chunks_total', chunks, 'rows_done', 0, 'chunks_done', 0,
  'created_ms', now)
for i = 0, chunks - 1 do
  local tid = job_id .. ':' .. i
  local first = i * chunk_rows
  local last = math.min(first + chunk_rows, rows_total)
  redis.call('HSET', prefix .. 'task:' .. tid, 'job', job_id, 'chunk', i, 'row_start', first,
    'row_end', last, 'state', 'ready', 'attempts', 0, 'stalls', 0, 'queued_ms', now)
  redis.call('RPUSH', KEYS[3], tid)
end
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'idempotency_key', ARGV[8])
  redis.call('HSET', KEYS[2], 'job', job_id, 'fingerprint', fingerprint)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[7]))
end
redis.call('HINCRBY', KEYS[4], 'submitted_jobs', 1)
redis.call('HINCRBY', KEYS[4], 'submitted_tasks', chunks)
return {'created', job_id}

-- Shared by every queue script (prepended by scripts.rs). Keys other than KEYS[] are built
-- from the partition prefix (ARGV[1] where used), so they share the partition's hash tag.

-- Milliseconds on the Redis server clock: one clock for every worker, whatever their skew.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function is_terminal(state)
  return state == 'succeeded' or state == 'failed' or state == 'cancelled'
end

-- Records that a job reached a terminal state in its partition's `finished` ZSET (job id →
-- finished ms), which the result sweep reads to expire results after RESULT_TTL. The job key
-- is `<prefix>job:<id>`, so the ZSET shares its hash tag.
local function record_finished(job_key, now)
  local prefix, id = string.match(job_key, '^(.*)job:(.+)$')
  if prefix then
    redis.call('ZADD', prefix .. 'finished', now, id)
  end
end

local function finish_job(job_key, state, code, message, now)
  redis.call('HSET', job_key, 'state', state, 'error_code', code, 'error', message,
    'finished_ms', now)
  record_finished(job_key, now)
end

-- Takes every not-yet-running task of a job out of ready/scheduled (they become 'cancelled').
-- Leased tasks are left alone: their heartbeat tells the worker to stop, and the worker's next
-- write acknowledges it. A few ready chunks are removed with LREM (each linear in the ready
-- list); many are removed in one pass that rewrites the list, so cancelling a 10,000-chunk job
-- costs O(ready + chunks), not O(ready * chunks), and Redis is never blocked for long.
local function withdraw_waiting(prefix, job_id, chunks, ready_key, scheduled_key)
  local waiting = {}
  for i = 0, chunks - 1 do
    local tid = job_id .. ':' .. i
    local tkey = prefix .. 'task:' .. tid
    local st = redis.call('HGET', tkey, 'state')
    if st == 'ready' then
      waiting[#waiting + 1] = tid
      redis.call('HSET', tkey, 'state', 'cancelled')
    elseif st == 'scheduled' then
      redis.call('ZREM', scheduled_key, tid)
      redis.call('HSET', tkey, 'state', 'cancelled')
    end
  end
  if #waiting <= 16 then
    for _, tid in ipairs(waiting) do
      redis.call('LREM', ready_key, 1, tid)
    end
    return
  end
  local mark = job_id .. ':'
  local keep = {}
  for _, tid in ipairs(redis.call('LRANGE', ready_key, 0, -1)) do
    if string.sub(tid, 1, #mark) ~= mark then
      keep[#keep + 1] = tid
    end
  end
  redis.call('DEL', ready_key)
  for i = 1, #keep, 1000 do
    redis.call('RPUSH', ready_key, unpack(keep, i, math.min(i + 999, #keep)))
  end
end

local function stale(stats_key)
  redis.call('HINCRBY', stats_key, 'stale_writes', 1)
  return {'stale'}
end


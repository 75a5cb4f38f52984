-- Takes back leases whose deadline passed: stalls + 1 and back to the head of ready, or the
-- job fails with 'worker_lost' once a task has stalled max-stalls times.
--
-- Grace after an outage: lease deadlines are on the Redis clock, so if Redis was paused,
-- restarted from AOF, or unreachable for a while, every lease can look expired although its
-- worker is alive and just could not heartbeat. Each reap records the server time in
-- `reaper.last_ms`; if more than ARGV[3] ms passed since the previous reap (by any process),
-- nobody could reap during that time, so we assume an outage and reap nothing for a grace
-- period (ARGV[2], one lease) during which live workers renew. Only the reaper writes
-- `last_ms`, so heartbeats queued during a pause cannot hide the gap. A first reap ever (no
-- `last_ms`, e.g. Redis restarted empty) also starts a grace period. No INFO/run_id needed,
-- and it works the same on every cluster node.
-- KEYS: 1 leased, 2 ready, 3 scheduled, 4 dead, 5 reaper, 6 stats
-- ARGV: 1 prefix, 2 grace ms, 3 gap ms, 4 max stalls, 5 limit
-- Returns {'grace', ms left} | {'reaped', requeued, lost}
local prefix = ARGV[1]
local now = now_ms()
local r = redis.call('HMGET', KEYS[5], 'last_ms', 'grace_until_ms')
local last = tonumber(r[1] or '0')
local grace_until = tonumber(r[2] or '0')
redis.call('HSET', KEYS[5], 'last_ms', now)
if last == 0 or now - last > tonumber(ARGV[3]) then
  grace_until = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[5], 'grace_until_ms', grace_until)
  redis.call('HINCRBY', KEYS[5], 'graces', 1)
end
if now < grace_until then
  return {'grace', tostring(grace_until - now)}
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
local requeued, lost = 0, 0
for _, tid in ipairs(expired) do
  redis.call('ZREM', KEYS[1], tid)
  local tkey = prefix .. 'task:' .. tid
  local t = redis.call('HMGET', tkey, 'job', 'chunk')
  if t[1] then
    local jkey = prefix .. 'job:' .. t[1]
    local j = redis.call('HMGET', jkey, 'state', 'chunks_total')
    if (not j[1]) or is_terminal(j[1]) then
      redis.call('HSET', tkey, 'state', 'cancelled')
    else
      local stalls = redis.call('HINCRBY', tkey, 'stalls', 1)
      if stalls >= tonumber(ARGV[4]) then
        redis.call('HSET', tkey, 'state', 'dead', 'error', 'worker_lost', 'finished_ms', now)
        redis.call('ZADD', KEYS[4], now, tid)
        finish_job(jkey, 'failed', 'worker_lost',
          'chunk ' .. t[2] .. ' lost its worker ' .. stalls .. ' times', now)
        withdraw_waiting(prefix, t[1], tonumber(j[2]), KEYS[2], KEYS[3])
        lost = lost + 1
      else
        redis.call('HSET', tkey, 'state', 'ready', 'queued_ms', now)
        redis.call('LPUSH', KEYS[2], tid)
        requeued = requeued + 1
      end
    end
  end
end
if #expired > 0 then
  redis.call('HINCRBY', KEYS[6], 'reaped', #expired)
end
return {'reaped', tostring(requeued), tostring(lost)}

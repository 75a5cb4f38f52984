-- Leases the oldest ready task to a worker with a fresh fencing token.
-- KEYS: 1 ready, 2 leased, 3 fence, 4 stats
-- ARGV: 1 prefix, 2 worker id, 3 lease ms
-- Returns {} when nothing is ready, else
-- {task id, token, payload, row_start, row_end, attempts, stalls, ms waited in ready}
local prefix = ARGV[1]
local now = now_ms()
-- Tasks of jobs that ended meanwhile are dropped on the way (bounded, so one call stays short).
for _ = 1, 100 do
  local tid = redis.call('LPOP', KEYS[1])
  if not tid then
    return {}
  end
  local tkey = prefix .. 'task:' .. tid
  local t = redis.call('HMGET', tkey, 'job', 'state', 'row_start', 'row_end', 'attempts', 'stalls',
    'queued_ms')
  if t[1] and t[2] == 'ready' then
    local jkey = prefix .. 'job:' .. t[1]
    local j = redis.call('HMGET', jkey, 'state', 'payload')
    if j[1] and not is_terminal(j[1]) then
      local token = redis.call('INCR', KEYS[3])
      local attempts = tonumber(t[5] or '0') + 1
      redis.call('HSET', tkey, 'state', 'leased', 'token', token, 'worker', ARGV[2],
        'attempts', attempts, 'leased_ms', now)
      redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), tid)
      if j[1] == 'queued' then
        redis.call('HSET', jkey, 'state', 'running', 'started_ms', now)
      end
      local waited = math.max(0, now - tonumber(t[7] or now))
      return {tid, tostring(token), j[2] or '', t[3], t[4], tostring(attempts), t[6] or '0',
        tostring(waited)}
    end
    redis.call('HSET', tkey, 'state', 'cancelled')
  end
  redis.call('HINCRBY', KEYS[4], 'skipped', 1)
end
return {}

-- Marks workers as seen now and counts the workers seen lately (health's "workers seen"):
-- every process running workers calls it periodically with its worker ids; health calls it
-- with none. The clock is Redis's, so machines with skewed clocks still agree.
-- KEYS: 1 workers (ZSET worker id -> last seen ms; partition 0 only)
-- ARGV: 1 window ms (seen within it counts), 2 forget ms (older entries are removed),
--       3.. worker ids to mark seen now
-- Returns {number of workers seen within the window}.
local now = now_ms()
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], now, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return {tostring(redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf'))}

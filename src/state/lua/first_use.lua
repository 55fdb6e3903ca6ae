-- The replay cache (mirrors state::memory's Replay): one sorted set per deployment whose
-- members are the SHA-256 (hex) of the ids, scored by expiry in ms on the server's clock (the
-- clock every node shares). Expired members are dropped first (ZREMRANGEBYSCORE), so ZCARD
-- counts the live ids; at the cap a new id is refused, never one evicted.
-- KEYS[1]: the sorted set. ARGV: id digest, ttl_ms, max live ids.
-- Returns 1 (first use: stored until now + ttl), 0 (live: a replay), 2 (full: not stored).
local key = KEYS[1]
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, ARGV[1]) then
  return 0
end
if redis.call('ZCARD', key) >= tonumber(ARGV[3]) then
  return 2
end
redis.call('ZADD', key, now + ttl, ARGV[1])
-- The set lives as long as its longest-lived member.
if redis.call('PTTL', key) < ttl then
  redis.call('PEXPIRE', key, ttl)
end
return 1

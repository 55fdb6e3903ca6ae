-- Takes back an advance count; mirrors state::memory::take_back. Never creates the key.
-- KEYS[1]: the account's hash. ARGV: class (1 familiar, 0 unfamiliar), the attempt's stored
-- time (ms), the previous last bad ms (-1 none).
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  return 0
end
local cf, bf
if ARGV[1] == '1' then
  cf, bf = 'fc', 'fb'
else
  cf, bf = 'uc', 'ub'
end
local v = redis.call('HMGET', key, cf, bf)
local count = tonumber(v[1]) or 0
if count > 0 then
  redis.call('HSET', key, cf, count - 1)
end
if tonumber(v[2]) == tonumber(ARGV[2]) then
  local previous = tonumber(ARGV[3])
  if previous < 0 then
    redis.call('HDEL', key, bf)
  else
    redis.call('HSET', key, bf, previous)
  end
end
return 1

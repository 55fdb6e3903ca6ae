-- take_back(key, class, at, previous): takes back an advance count; mirrors
-- state::memory::take_back. Never creates the key. class '1' familiar, '0' unfamiliar; at: the
-- attempt's stored time (ms); previous: the class's last bad ms before it (-1 none).
local function take_back(key, class, at, previous)
  if redis.call('EXISTS', key) == 0 then
    return 0
  end
  local cf, bf
  if class == '1' then
    cf, bf = 'fc', 'fb'
  else
    cf, bf = 'uc', 'ub'
  end
  local v = redis.call('HMGET', key, cf, bf)
  local count = tonumber(v[1]) or 0
  if count > 0 then
    redis.call('HSET', key, cf, count - 1)
  end
  if tonumber(v[2]) == tonumber(at) then
    if tonumber(previous) < 0 then
      redis.call('HDEL', key, bf)
    else
      redis.call('HSET', key, bf, previous)
    end
  end
  return 1
end

-- Redeems an OAuth authorization code once across the farm.
-- KEYS[1]: the code's record (a string, expiring with the code). KEYS[2]: its "redeemed" mark.
-- Returns {'unknown'}, {'fresh', record} (the first redemption: the mark is set for as long
-- as the record lives) or {'replayed', record} (redeemed before, on any node).
local record = redis.call('GET', KEYS[1])
if not record then
  return {'unknown'}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  ttl = 1000
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ttl) then
  return {'fresh', record}
end
return {'replayed', record}

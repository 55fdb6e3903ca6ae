-- Cancels an attempt its node gave up on (after take_back.lua, which this is appended to).
-- KEYS[1]: the account's hash; KEYS[2]: the attempt's record. ARGV: the record's TTL (ms).
-- The record holds 'class:at:previous' when the attempt was counted: that count is taken back.
-- Either way the record becomes 'cancelled', so the attempt does nothing if it runs later.
local record = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], 'cancelled', 'PX', tonumber(ARGV[1]))
if not record or record == 'cancelled' then
  return 0
end
local class, at, previous = string.match(record, '^(%d):(%d+):(-?%d+)$')
if class == nil then
  return 0
end
return take_back(KEYS[1], class, at, previous)

-- One sign-in attempt (AD FS Extranet Smart Lockout); mirrors state::memory::decide.
-- KEYS[1]: the account's hash; KEYS[2]: this attempt's record (see cancel.lua). ARGV: now_ms,
-- window_ms, threshold, familiar_threshold, lifetime_ms, record_ttl_ms, attempt_record_ttl_ms,
-- then the request's client IPs (canonical, de-duplicated).
-- Fields: fc/fb and uc/ub (familiar/unfamiliar count and last bad ms), ip:<addr> = last seen ms.
-- Returns {class (1 familiar, 0 unfamiliar), verdict (0 allowed, 1 probe, 2 refused), count,
-- last bad ms (-1 none), the counted attempt's previous last bad ms (-1 none)}; verdict 3 when
-- the attempt was cancelled before it ran (its node gave up on it): nothing is counted.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, 3, 0, -1, -1}
end
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lifetime = tonumber(ARGV[5])
local familiar = #ARGV > 7
if familiar then
  local fields = {}
  for i = 8, #ARGV do
    fields[#fields + 1] = 'ip:' .. ARGV[i]
  end
  local seen = redis.call('HMGET', key, unpack(fields))
  for i = 1, #seen do
    local s = tonumber(seen[i])
    if s == nil or s + lifetime <= now then
      familiar = false
      break
    end
  end
end
local cf, bf, limit, class
if familiar then
  cf, bf, limit, class = 'fc', 'fb', tonumber(ARGV[4]), 1
else
  cf, bf, limit, class = 'uc', 'ub', tonumber(ARGV[3]), 0
end
local v = redis.call('HMGET', key, cf, bf)
local count = tonumber(v[1]) or 0
local last = tonumber(v[2])
local verdict = 0
if count >= limit then
  if last ~= nil and now < last + window then
    return {class, 2, count, last, -1}
  end
  verdict = 1
end
local at = now
if last ~= nil and last > now then
  at = last
end
redis.call('HSET', key, cf, count + 1, bf, at)
redis.call('PEXPIRE', key, tonumber(ARGV[6]))
redis.call('SET', KEYS[2], class .. ':' .. at .. ':' .. (last or -1), 'PX', tonumber(ARGV[7]))
return {class, verdict, count + 1, at, last or -1}

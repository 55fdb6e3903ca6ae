-- A successful sign-in, or an operator's change of familiar locations; mirrors
-- state::memory::record_success and MemoryStore::set_familiar.
-- KEYS[1]: the account's hash. ARGV: now_ms, class (1 familiar, 0 unfamiliar: its count is
-- reset; -1: no count is touched), lifetime_ms, max_familiar_locations, record_ttl_ms, the
-- number of IPs that follow to remove, those, then the IPs to make familiar (canonical,
-- de-duplicated, at most max_familiar_locations of them).
local key = KEYS[1]
local now = tonumber(ARGV[1])
local lifetime = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
if ARGV[2] == '1' then
  redis.call('HSET', key, 'fc', 0)
elseif ARGV[2] == '0' then
  redis.call('HSET', key, 'uc', 0)
end
local removed = tonumber(ARGV[6])
for i = 7, 6 + removed do
  redis.call('HDEL', key, 'ip:' .. ARGV[i])
end
for i = 7 + removed, #ARGV do
  local f = 'ip:' .. ARGV[i]
  local s = tonumber(redis.call('HGET', key, f))
  if s == nil or s < now then
    redis.call('HSET', key, f, now)
  end
end
local all = redis.call('HGETALL', key)
local ips = {}
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 3) == 'ip:' then
    local s = tonumber(all[i + 1]) or 0
    if s + lifetime <= now then
      redis.call('HDEL', key, all[i])
    else
      ips[#ips + 1] = {all[i], s}
    end
  end
end
if #ips > max then
  table.sort(ips, function(a, b) return a[2] < b[2] end)
  for i = 1, #ips - max do
    redis.call('HDEL', key, ips[i][1])
  end
end
redis.call('PEXPIRE', key, tonumber(ARGV[5]))
return 1

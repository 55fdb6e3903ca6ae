-- Rotates a refresh token: a family is a hash {c = current secret digest, r = record} that
-- expires with the family's lifetime (rotation does not extend it).
-- KEYS[1]: the family. ARGV: presented secret digest, next secret digest.
-- Returns {'unknown'}, {'rotated', record} (the presented token was current: the next one is),
-- or {'reused'} (an earlier token of the family: the family is deleted, revoking every token).
local current = redis.call('HGET', KEYS[1], 'c')
if not current then
  return {'unknown'}
end
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {'reused'}
end
redis.call('HSET', KEYS[1], 'c', ARGV[2])
return {'rotated', redis.call('HGET', KEYS[1], 'r')}

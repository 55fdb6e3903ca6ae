-- Takes back an advance count (after take_back.lua, which this is appended to).
-- KEYS[1]: the account's hash. ARGV: class (1 familiar, 0 unfamiliar), the attempt's stored
-- time (ms), the previous last bad ms (-1 none).
return take_back(KEYS[1], ARGV[1], ARGV[2], ARGV[3])

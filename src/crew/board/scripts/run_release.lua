-- Give the run lease back (only with the current token; a stale token changes nothing).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] token
-- Returns {'ok', 1} if released, {'ok', 0} otherwise.
local key = K.run(ARGV[2])
if redis.call('HGET', key, 'lease_token') ~= ARGV[3] then return {'ok', 0} end
redis.call('HSET', key, 'lease_holder', '', 'lease_token', '', 'lease_deadline', '')
return {'ok', 1}

-- Extend the run lease held with ARGV[3]; a stale token is refused.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] token; ARGV[4] lease seconds
-- Returns {'ok', deadline}; errors: not_found, lease_lost.
local run, token = ARGV[2], ARGV[3]
local key = K.run(run)
local r = redis.call('HMGET', key, 'status', 'lease_holder', 'lease_token')
if not r[1] then return {'err', 'not_found', run} end
if r[3] ~= token then return {'err', 'lease_lost', run, r[1], r[2] or '', r[3] or ''} end
local deadline = string.format('%.6f', NOW + tonumber(ARGV[4]))
redis.call('HSET', key, 'lease_deadline', deadline)
return {'ok', deadline}

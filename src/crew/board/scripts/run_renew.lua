-- Extend the run lease held with ARGV[3]; a stale token is refused.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] token; ARGV[4] lease seconds
-- Returns {'ok', deadline}; refusals: not_found {run}, lease_lost {run, status, holder, token,
-- stale (the token refused)}.
local run, token = ARGV[2], ARGV[3]
local key = K.run(run)
local r = redis.call('HMGET', key, 'status', 'lease_holder', 'lease_token')
if not r[1] then return refuse('not_found', {run = run}) end
if r[3] ~= token then
  return refuse('lease_lost', {run = run, status = r[1], holder = r[2] or '', token = r[3] or '',
                               stale = token})
end
local deadline = string.format('%.6f', NOW + tonumber(ARGV[4]))
redis.call('HSET', key, 'lease_deadline', deadline)
if not TERMINAL[r[1]] then redis.call('ZADD', K.run_leases(), deadline, run) end
return {'ok', deadline}

-- Take the lease that lets one process drive a run; take over an expired one.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] holder; ARGV[4] lease seconds
-- Returns {'ok', token, deadline} or {'ok', '', deadline, holder} when another live holder has
-- it; refusals: not_found {run}.
local run, holder = ARGV[2], ARGV[3]
local key = K.run(run)
local r = redis.call('HMGET', key, 'status', 'lease_holder', 'lease_token', 'lease_deadline',
                     'lease_seq', 'version')
if not r[1] then return refuse('not_found', {run = run}) end
if (r[3] or '') ~= '' and tonumber(r[4]) > NOW then return {'ok', '', r[4], r[2]} end
local seq = tonumber(r[5] or '0') + 1
local token = tostring(seq)
local deadline = string.format('%.6f', NOW + tonumber(ARGV[4]))
redis.call('HSET', key, 'lease_holder', holder, 'lease_token', token, 'lease_seq', token,
           'lease_deadline', deadline)
local detail = {holder = holder}
if (r[3] or '') ~= '' then detail.took_over_from = r[2] end
log_event(run, '', 'run_driver', holder, tonumber(r[6]), cjson.encode(detail))
return {'ok', token, deadline}

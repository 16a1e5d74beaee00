-- Take the lease that lets one process drive a run; take over an expired one.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] holder; ARGV[4] lease seconds
-- Returns {'ok', token, deadline} or {'ok', '', deadline, holder} when another live holder has
-- it; refusals: not_found {run}.
local run, holder = ARGV[2], ARGV[3]
local r = redis.call('HMGET', K.run(run), unpack(RUN_LEASE_FIELDS))
if not r[1] then return refuse('not_found', {run = run}) end
if lease_live(r) then return {'ok', '', r[4], r[2]} end
local token, deadline = take_run_lease(run, r, holder, ARGV[4])
return {'ok', token, deadline}

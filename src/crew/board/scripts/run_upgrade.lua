-- Move a run to another playbook version (`crew resume RUN --upgrade`), under its lease.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] the caller's run lease token; ARGV[4] the hash the caller read (the
-- version it checked the run's finished steps against; '' = the run was not pinned);
-- ARGV[5] the new version's hash; ARGV[6] its text; ARGV[7] actor; ARGV[8] event detail JSON
-- Returns {'ok', field, value, ...}; refusals: not_found {run}, status {run, status} (finished),
-- lease_lost {run, status, holder, token}, changed {run, pinned}.
local run, token = ARGV[2], ARGV[3]
local key = K.run(run)
local r = redis.call('HMGET', key, 'status', 'lease_holder', 'lease_token', 'pinned', 'version')
if not r[1] then return refuse('not_found', {run = run}) end
if TERMINAL[r[1]] then return refuse('status', {run = run, status = r[1]}) end
if r[3] ~= token then
  return refuse('lease_lost', {run = run, status = r[1], holder = r[2] or '', token = r[3] or ''})
end
if (r[4] or '') ~= ARGV[4] then return refuse('changed', {run = run, pinned = r[4] or ''}) end
local version = tonumber(r[5]) + 1
redis.call('SET', K.run_pinned(run), ARGV[6])
redis.call('HSET', key, 'pinned', ARGV[5], 'updated', NOW_S, 'version', tostring(version))
log_event(run, '', 'upgraded', ARGV[7], version, ARGV[8])
local flat = redis.call('HGETALL', key)
table.insert(flat, 1, 'ok')
return flat

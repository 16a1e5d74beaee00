-- Give the run lease back (only with the current token; a stale token changes nothing). A run
-- still running (its driver stopped between steps: a drained worker, an interrupted `crew run`)
-- goes back in line as queued, so a worker carries it on at once.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] token
-- Returns {'ok', 1} if released, {'ok', 0} otherwise.
local run = ARGV[2]
local key = K.run(run)
local r = redis.call('HMGET', key, 'lease_token', 'status', 'version', 'priority', 'lease_holder')
if r[1] ~= ARGV[3] then return {'ok', 0} end
redis.call('HSET', key, 'lease_holder', '', 'lease_token', '', 'lease_deadline', '')
redis.call('ZREM', K.run_leases(), run)
if r[2] == 'running' or r[2] == 'queued' then
  local version = tonumber(r[3]) + 1
  redis.call('HSET', key, 'status', 'queued', 'updated', NOW_S, 'version', tostring(version))
  index_run(run, r[2], 'queued', r[4])
  if r[2] == 'running' then
    log_event(run, '', 'run_queued', r[5] or '', version,
              cjson.encode({status = 'queued', reason = 'its driver handed it back'}))
  end
end
return {'ok', 1}

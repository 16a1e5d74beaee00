-- Change a run's status (and its indexes: _runs.lua). A finished run (done, failed, rejected,
-- cancelled) is final; queued puts it in line for a worker.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] status; ARGV[4] waiting_on JSON; ARGV[5] actor; ARGV[6] reason;
-- ARGV[7] event name; ARGV[8] event detail JSON
-- Returns {'ok', field, value, ...}; refusals: not_found {run}, status {run, status, to}.
local run, status = ARGV[2], ARGV[3]
local old = redis.call('HGET', K.run(run), 'status')
if not old then return refuse('not_found', {run = run}) end
if TERMINAL[old] then return refuse('status', {run = run, status = old, to = status}) end
local version = tonumber(redis.call('HGET', K.run(run), 'version')) + 1
index_run(run, old, status, redis.call('HGET', K.run(run), 'priority'))
redis.call('HSET', K.run(run), 'status', status, 'waiting_on', ARGV[4], 'reason', ARGV[6],
           'updated', NOW_S, 'version', tostring(version))
if TERMINAL[status] then
  redis.call('HSET', K.run(run), 'finished', NOW_S)
  redis.call('ZADD', K.runs_finished(), NOW_S, run)
  rollup_run_ended(run, status)
end
log_event(run, '', ARGV[7], ARGV[5], version, ARGV[8])
local flat = redis.call('HGETALL', K.run(run))
table.insert(flat, 1, 'ok')
return flat

-- Record a new run: running (driven by the process that starts it) or queued (for a worker).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] playbook; ARGV[4] inputs JSON; ARGV[5] started by;
-- ARGV[6] event detail JSON; ARGV[7] meta JSON (what a driver needs to run it again);
-- ARGV[8] the hash of the playbook version the run is pinned to, ARGV[9] that version's text
-- (both '' = not pinned); the text is stored once, beside the run record, not in it;
-- ARGV[10] status: 'running' or 'queued'; ARGV[11] priority (an integer, -1000..1000);
-- ARGV[12] idempotency key ('' = none); ARGV[13] seconds the starting process has to take the
-- run lease of a running run before a worker may (its place in the takeover index);
-- ARGV[14...] the keys of a LangGraph state saved for this run id (crew.persistence.thread_keys:
-- their layout is the saver's)
-- Returns {'ok', field, value, ...}, or {'existing', run id} when a run kept on the board was
-- submitted with the same key (nothing written); refusals: exists {run} (a run record, or
-- anything a run with this id left: its cards, events, pinned playbook, LangGraph state or index
-- entry; a new run must not inherit them, even when its record was lost).
local run, status, key = ARGV[2], ARGV[10], ARGV[12]
if key ~= '' then
  local first = redis.call('GET', K.run_key(key))
  if first and redis.call('EXISTS', K.run(first)) == 1 then return {'existing', first} end
end
if redis.call('EXISTS', K.run(run), K.run_cards(run), K.run_events(run), K.run_pinned(run),
              unpack(ARGV, 14)) > 0 or redis.call('ZSCORE', K.runs(), run) then
  return refuse('exists', {run = run})
end
redis.call('HSET', K.run(run), 'id', run, 'playbook', ARGV[3], 'inputs', ARGV[4],
           'started_by', ARGV[5], 'status', status, 'waiting_on', '[]', 'reason', '',
           'created', NOW_S, 'updated', NOW_S, 'version', '1', 'lease_seq', '0',
           'meta', ARGV[7], 'pinned', ARGV[8], 'priority', ARGV[11], 'key', key)
if ARGV[9] ~= '' then redis.call('SET', K.run_pinned(run), ARGV[9]) end
if key ~= '' then redis.call('SET', K.run_key(key), run) end
redis.call('ZADD', K.runs(), NOW_S, run)
redis.call('ZADD', K.runs_status(status), NOW_S, run)
if status == 'queued' then
  enqueue_run(run, ARGV[11])
else
  redis.call('ZADD', K.run_leases(), string.format('%.6f', NOW + tonumber(ARGV[13])), run)
end
log_event(run, '', status == 'queued' and 'run_queued' or 'run_started', ARGV[5], 1, ARGV[6])
local flat = redis.call('HGETALL', K.run(run))
table.insert(flat, 1, 'ok')
return flat

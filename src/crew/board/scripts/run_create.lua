-- Record a new run (status running).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] run id; ARGV[3] playbook; ARGV[4] inputs JSON; ARGV[5] started by;
-- ARGV[6] event detail JSON; ARGV[7] meta JSON (what a driver needs to run it again);
-- ARGV[8] the hash of the playbook version the run is pinned to, ARGV[9] that version's text
-- (both '' = not pinned); the text is stored once, beside the run record, not in it;
-- ARGV[10...] the keys of a LangGraph state saved for this run id (crew.persistence.thread_keys:
-- their layout is the saver's)
-- Returns {'ok', field, value, ...}; refusals: exists {run} (a run record, or anything a run with
-- this id left: its cards, events, pinned playbook, LangGraph state or index entry; a new run
-- must not inherit them, even when its record was lost).
local run = ARGV[2]
if redis.call('EXISTS', K.run(run), K.run_cards(run), K.run_events(run), K.run_pinned(run),
              unpack(ARGV, 10)) > 0 or redis.call('ZSCORE', K.runs(), run) then
  return refuse('exists', {run = run})
end
redis.call('HSET', K.run(run), 'id', run, 'playbook', ARGV[3], 'inputs', ARGV[4],
           'started_by', ARGV[5], 'status', 'running', 'waiting_on', '[]', 'reason', '',
           'created', NOW_S, 'updated', NOW_S, 'version', '1', 'lease_seq', '0',
           'meta', ARGV[7], 'pinned', ARGV[8])
if ARGV[9] ~= '' then redis.call('SET', K.run_pinned(run), ARGV[9]) end
redis.call('ZADD', K.runs(), NOW_S, run)
log_event(run, '', 'run_started', ARGV[5], 1, ARGV[6])
local flat = redis.call('HGETALL', K.run(run))
table.insert(flat, 1, 'ok')
return flat

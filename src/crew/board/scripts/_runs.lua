-- Helpers of the run scripts (run_*.lua, purge.lua), after _common.lua. A run that can go on
-- (queued, running, waiting) is in the index of its status; a run waiting for a worker is in the
-- queue, its place (1000 - priority) * 1e12 + a sequence number: higher priorities first, then
-- first in first out (exact integers in a double); a driven run is in the takeover index under
-- its lease deadline.

local function queue_place(priority)
  local seq = redis.call('INCR', K.run_seq())
  return string.format('%.0f', (1000 - (tonumber(priority) or 0)) * 1e12 + seq)
end

local function enqueue_run(run, priority)
  if not redis.call('ZSCORE', K.run_queue(), run) then
    redis.call('ZADD', K.run_queue(), queue_place(priority), run)
  end
end

-- The run moved from `old` (nil: new) to `new`: its indexes follow.
local function index_run(run, old, new, priority)
  if old then redis.call('ZREM', K.runs_status(old), run) end
  if TERMINAL[new] then
    redis.call('ZREM', K.run_queue(), run)
    redis.call('ZREM', K.run_leases(), run)
    return
  end
  redis.call('ZADD', K.runs_status(new), NOW_S, run)
  if new == 'queued' then enqueue_run(run, priority) else redis.call('ZREM', K.run_queue(), run) end
end

-- Take the lease of run `run` (its record's fields `r` = status, lease_holder, lease_token,
-- lease_deadline, lease_seq, version) for `holder`, `seconds` long; it leaves the queue.
-- Returns the new token and deadline.
local function take_run_lease(run, r, holder, seconds)
  local seq = tonumber(r[5] or '0') + 1
  local token = tostring(seq)
  local deadline = string.format('%.6f', NOW + tonumber(seconds))
  redis.call('HSET', K.run(run), 'lease_holder', holder, 'lease_token', token, 'lease_seq', token,
             'lease_deadline', deadline)
  redis.call('ZADD', K.run_leases(), deadline, run)
  redis.call('ZREM', K.run_queue(), run)
  local detail = {holder = holder}
  if (r[3] or '') ~= '' then detail.took_over_from = r[2] end
  log_event(run, '', 'run_driver', holder, tonumber(r[6]), cjson.encode(detail))
  return token, deadline
end

local RUN_LEASE_FIELDS = {'status', 'lease_holder', 'lease_token', 'lease_deadline', 'lease_seq',
                          'version'}

local function lease_live(r)
  return (r[3] or '') ~= '' and tonumber(r[4]) > NOW
end

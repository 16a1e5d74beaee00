-- Return running cards whose lease expired to the queue (attempt counted), or fail them once
-- they have been tried max_attempts times, so poison work never loops forever.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] at most this many cards per call
-- Returns {'ok', id, ...} (the reaped cards).
local expired = redis.call('ZRANGEBYSCORE', K.leases(), '-inf', NOW_S, 'LIMIT', 0, tonumber(ARGV[2]))
local reaped = {'ok'}
for _, id in ipairs(expired) do
  local c = load_card(id)
  if c == nil or c.status ~= 'running' then
    redis.call('ZREM', K.leases(), id)  -- a stale index entry
  elseif tonumber(c.lease_deadline) <= NOW then
    local worker = c.worker
    local attempt = tonumber(c.attempt or '0')
    local max_attempts = tonumber(c.max_attempts or '1')
    local new = 'queued'
    if attempt >= max_attempts then new = 'failed' end
    local reason = 'lease of ' .. (worker or '?') .. ' expired (attempt ' .. attempt .. ' of '
                   .. max_attempts .. ')'
    local version = move_card(id, c, new, {reason = reason})
    log_event(c.run, id, 'lease_expired', 'reaper', version,
              cjson.encode({worker = worker, attempt = attempt, max_attempts = max_attempts,
                            status = new}))
    table.insert(reaped, id)
  end
end
return reaped

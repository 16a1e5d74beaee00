-- A worker takes the first run in line (priority, then first in first out) with its lease.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] holder; ARGV[3] lease seconds
-- Returns {'ok', run, token, deadline}, or {'ok'} when no run waits for a worker. Entries of
-- runs that finished, are gone or are driven right now leave the line on the way (a driver that
-- hands a run back puts it in line again).
for _ = 1, 50 do
  local first = redis.call('ZRANGE', K.run_queue(), 0, 0)[1]
  if not first then return {'ok'} end
  redis.call('ZREM', K.run_queue(), first)
  local r = redis.call('HMGET', K.run(first), unpack(RUN_LEASE_FIELDS))
  if r[1] and not TERMINAL[r[1]] and not lease_live(r) then
    local token, deadline = take_run_lease(first, r, ARGV[2], ARGV[3])
    return {'ok', first, token, deadline}
  end
end
return {'ok'}

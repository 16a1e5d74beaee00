-- The outcome of one attempt at a webhook delivery (claimed by outbox_claim.lua). Delivered, or
-- failed for good, or failed with every attempt made: the delivery is finished (finish_delivery
-- in _common.lua: 'notified' or 'notify_failed' on its card) and leaves the outbox. Otherwise it
-- is due again after a backoff that doubles with each attempt, for any process to claim.
-- A report whose claim was taken over (its lease ran out and someone claimed the next attempt)
-- counts only if it delivered: the message got there, and the later attempt's report then finds
-- the delivery gone.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] outbox member; ARGV[3] the attempt's number (the claim's token); ARGV[4] outcome: 'ok'
-- (delivered), 'retry' (failed, may be tried again: no answer, a server error, 429) or 'fail'
-- (refused for good: another client error); ARGV[5] HTTP status or ''; ARGV[6] error or '';
-- ARGV[7] attempts allowed; ARGV[8] seconds before the second attempt (each next one waits
-- twice as long); ARGV[9] actor of the events
-- Returns {'ok', 'notified' | 'notify_failed' | 'retry', time the retry is due or ''};
-- refusals: gone {member} (finished or purged meanwhile), stale {member, attempts} (a failed
-- attempt that was taken over).
local member, attempt, outcome = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local id, n = string.match(member, '^(.+):(%d+)$')
local raw = id and redis.call('HGET', K.deliveries(id), n)
if not raw then return refuse('gone', {member = member}) end
local d = cjson.decode(raw)
if d.attempts ~= attempt and outcome ~= 'ok' then
  return refuse('stale', {member = member, attempts = tostring(d.attempts)})
end
d.status = tonumber(ARGV[5])
d.error = nil
if ARGV[6] ~= '' then d.error = ARGV[6] end
if outcome == 'ok' then
  finish_delivery(member, id, n, d, 'notified', ARGV[9])
  return {'ok', 'notified', ''}
end
if outcome == 'fail' or d.attempts >= tonumber(ARGV[7]) then
  finish_delivery(member, id, n, d, 'notify_failed', ARGV[9])
  return {'ok', 'notify_failed', ''}
end
local at = string.format('%.6f', NOW + tonumber(ARGV[8]) * 2 ^ (d.attempts - 1))
d.holder, d.next = '', at
redis.call('HSET', K.deliveries(id), n, cjson.encode(d))
redis.call('ZADD', K.outbox(), at, member)
return {'ok', 'retry', at}

-- Take the webhook delivery that has been due longest (the outbox: see queue_delivery in
-- _common.lua) for one attempt by a holder. The attempt is counted here and its number is the
-- fencing token the attempt's report brings back (outbox_report.lua). The delivery stays in the
-- outbox, due again when the lease runs out: two processes never attempt it at once while the
-- lease lasts, and an attempt cut short (its process exited or died before reporting) is made
-- again by whoever claims it next. A delivery whose card was purged is dropped; one whose every
-- attempt was made (the last one cut short) is finished as failed ('notify_failed' on its card)
-- and the next due one is looked at, a bounded number per call.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] holder; ARGV[3] lease seconds; ARGV[4] attempts allowed; ARGV[5] actor of the events
-- Returns {'ok', outbox member, delivery JSON (attempts counted, holder set)}, or {'ok'} when no
-- delivery is due.
local holder, lease, allowed, actor = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
for _ = 1, 20 do
  local due = redis.call('ZRANGEBYSCORE', K.outbox(), '-inf', NOW_S, 'LIMIT', 0, 1)
  if #due == 0 then return {'ok'} end
  local member = due[1]
  local id, n = string.match(member, '^(.+):(%d+)$')
  local raw = id and redis.call('HGET', K.deliveries(id), n)
  if not raw then
    redis.call('ZREM', K.outbox(), member)  -- purged with its card
  else
    local d = cjson.decode(raw)
    if (d.holder or '') ~= '' then  -- claimed, never reported: that attempt was cut short
      d.status = nil
      d.error = 'no answer to attempt ' .. d.attempts .. ' before its process (' .. d.holder
        .. ') stopped'
      d.holder = ''
    end
    if d.attempts >= allowed then
      finish_delivery(member, id, n, d, 'notify_failed', actor)
    else
      d.attempts = d.attempts + 1
      d.holder, d.claimed = holder, NOW_S
      redis.call('HSET', K.deliveries(id), n, cjson.encode(d))
      redis.call('ZADD', K.outbox(), string.format('%.6f', NOW + lease), member)
      return {'ok', member, cjson.encode(d)}
    end
  end
end
return {'ok'}

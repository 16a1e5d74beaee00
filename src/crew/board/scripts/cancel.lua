-- Cancel a card that has not finished: queued | running | waiting | escalated -> cancelled.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] actor; ARGV[4] reason
-- Returns the card; errors: not_found, status.
local id, actor, reason = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return {'err', 'not_found', id} end
if TERMINAL[c.status] then return {'err', 'status', id, c.status, ''} end
local version = bump(c)
inbox_remove(id, c)
redis.call('ZREM', K.due(), id)
redis.call('ZREM', K.leases(), id)
redis.call('HSET', K.card(id), 'status', 'cancelled', 'reason', reason, 'lease_token', '',
           'lease_deadline', '', 'updated', NOW_S, 'finished', NOW_S, 'version', version)
set_status(id, c.status, 'cancelled')
log_event(c.run, id, 'cancelled', actor, version, cjson.encode({reason = reason}))
return card_reply(id)

-- Send a card back to the queue to run again (retry / revise):
-- waiting | escalated | rejected -> queued.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] actor; ARGV[4] reason
-- Returns the card; errors: not_found, status.
local id, actor, reason = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return {'err', 'not_found', id} end
if not (ACTIVE_WAIT[c.status] or c.status == 'rejected') then
  return {'err', 'status', id, c.status, ''}
end
local version = bump(c)
inbox_remove(id, c)
redis.call('ZREM', K.due(), id)
redis.call('HSET', K.card(id), 'status', 'queued', 'reason', reason, 'finished', '',
           'updated', NOW_S, 'version', version)
set_status(id, c.status, 'queued')
log_event(c.run, id, 'requeued', actor, version,
          cjson.encode({reason = reason, from = c.status}))
return card_reply(id)

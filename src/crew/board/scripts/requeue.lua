-- Send a card back to the queue to run again (retry / revise):
-- waiting | escalated | rejected -> queued.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] actor; ARGV[4] reason
-- Returns the card; refusals: not_found {card}, status {card, status, worker, wanted, done}.
local id, actor, reason = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if not (ACTIVE_WAIT[c.status] or c.status == 'rejected') then
  return refuse_status(id, c, 'waiting, escalated or rejected', 'requeued')
end
local from = c.status
local version = move_card(id, c, 'queued', {reason = reason})
log_event(c.run, id, 'requeued', actor, version, cjson.encode({reason = reason, from = from}))
rollup_wait_end(id, c)
return card_reply(id)

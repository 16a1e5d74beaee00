-- Cancel a card that has not finished: queued | running | waiting | escalated -> cancelled.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] actor; ARGV[4] reason
-- Returns the card; refusals: not_found {card}, status {card, status, worker, wanted, done}.
local id, actor, reason = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if TERMINAL[c.status] then return refuse_status(id, c, 'not finished', 'cancelled') end
local version = move_card(id, c, 'cancelled', {reason = reason})
log_event(c.run, id, 'cancelled', actor, version, cjson.encode({reason = reason}))
rollup_wait_end(id, c)
return card_reply(id)

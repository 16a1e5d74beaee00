-- A running agent card waits on something else (a person's approval of a tool call): running ->
-- queued, its lease handed back, with why; the run's driver claims it again when that is decided.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4] actor; ARGV[5] reason; ARGV[6] model usage JSON or ''
-- Returns the card; refusals: not_found {card}, lease_lost {card, status, worker, token}.
local id, token, actor, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local fields = {reason = reason}
if (ARGV[6] or '') ~= '' then fields.usage = ARGV[6] end
local version = move_card(id, c, 'queued', fields)
log_event(c.run, id, 'released', actor, version, cjson.encode({reason = reason}))
return card_reply(id)

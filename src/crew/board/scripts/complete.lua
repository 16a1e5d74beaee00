-- Finish a running card with its output: running -> done.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4] actor; ARGV[5] output JSON; ARGV[6] confidence or '';
-- ARGV[7] event detail JSON; ARGV[8] model usage JSON or '' (none)
-- Returns the card; refusals: not_found {card}, lease_lost {card, status, worker, token}.
local id, token, actor = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local fields = {output = ARGV[5], confidence = ARGV[6]}
if (ARGV[8] or '') ~= '' then fields.usage = ARGV[8] end
local version = move_card(id, c, 'done', fields)
log_event(c.run, id, 'completed', actor, version, ARGV[7])
rollup_executed(id, c, 'ok')
return card_reply(id)

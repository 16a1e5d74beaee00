-- A worker gives up on a running card: running -> failed, or -> queued when ARGV[6] is '1' and
-- attempts remain (attempt < max_attempts).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4] actor; ARGV[5] reason; ARGV[6] retry '1'|'0'
-- Returns the card; refusals: not_found {card}, lease_lost {card, status, worker, token}.
local id, token, actor, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local attempt = tonumber(c.attempt or '0')
local max_attempts = tonumber(c.max_attempts or '1')
local new = 'failed'
if ARGV[6] == '1' and attempt < max_attempts then new = 'queued' end
local version = move_card(id, c, new, {reason = reason})
local name = 'failed'
if new == 'queued' then name = 'requeued' end
log_event(c.run, id, name, actor, version,
          cjson.encode({reason = reason, attempt = attempt, max_attempts = max_attempts}))
return card_reply(id)

-- Extend the lease of a running card. Not a transition: no version bump, no event.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4] lease seconds
-- Returns {'ok', deadline}; refusals: not_found {card}, lease_lost {card, status, worker, token}.
local id, token = ARGV[2], ARGV[3]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local deadline = string.format('%.6f', NOW + tonumber(ARGV[4]))
update_card(id, c, {lease_deadline = deadline})
return {'ok', deadline}

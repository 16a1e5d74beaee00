-- Claim a queued card: it becomes running under a lease with a new fencing token.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] worker; ARGV[4] lease seconds
-- Returns {'ok', token, deadline, version}; refusals: not_found {card}, status {card, status,
-- worker, wanted, done}.
local id, worker = ARGV[2], ARGV[3]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if c.status ~= 'queued' then return refuse_status(id, c, 'queued', 'claimed') end
local token, deadline, version = take_lease(id, c, worker, ARGV[4])
return {'ok', token, deadline, version}

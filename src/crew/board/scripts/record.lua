-- Append entries to a running agent card's transcript (its tool loop: model turns, tool calls
-- started, tool results), fenced by the card's lease: a driver that lost the card writes nothing.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4..] one JSON entry each
-- Returns {'ok', the transcript's length}; refusals: not_found {card}, lease_lost {card, status,
-- worker, token}.
local id, token = ARGV[2], ARGV[3]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local entries = {}
for i = 4, #ARGV do entries[#entries + 1] = ARGV[i] end
local length = redis.call('RPUSH', K.transcript(id), unpack(entries))
return {'ok', length}

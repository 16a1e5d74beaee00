-- Record something that happened to a card without moving it (a webhook delivery): append the
-- event to the audit log and keep it on the card as 'notified' ({event, actor, at, detail}).
-- Not a transition: status, version and indexes stay as they are, in any status (a delivery
-- may finish after the card was answered).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] event name; ARGV[4] actor; ARGV[5] event detail JSON
-- Returns the card; refusals: not_found {card}.
local id, event, actor = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
note_card(id, c, event, actor, ARGV[5])
return card_reply(id)

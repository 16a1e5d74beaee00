-- Create a card.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] JSON detail for the 'created' event
-- ARGV[3] JSON object of the card's fields: run, playbook, step, kind, role, assignee, owner,
--         status, max_attempts, due, item, revision, detail, allowed, reason, output,
--         confidence, waiting_since, created_by, chain, sla (strings; '' = none)
-- ARGV[4] the assignee's webhook URL or '' (none): for a card that waits on a person from the
--         start, a delivery is queued in the outbox (see queue_delivery in _common.lua)
-- Returns {'ok', card JSON} (the new card); refusals (nothing written): seq_lost {counter,
-- last}, card_exists {counter, card, number} (Redis lost keys; see next_card_id in _common.lua).
local id, f = new_card(ARGV[3], ARGV[2])
if id == nil then return f end
rollup_created(id, f)
if (ARGV[4] or '') ~= '' and ACTIVE_WAIT[f.status] then
  queue_delivery(id, f, f.version, ARGV[4], '')
end
return card_reply(id)

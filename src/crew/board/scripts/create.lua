-- Create a card.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] JSON detail for the 'created' event
-- ARGV[3] JSON object of the card's fields: run, playbook, step, kind, role, assignee, owner,
--         status, max_attempts, due, item, revision, detail, allowed, reason, output,
--         confidence, waiting_since, created_by, chain, sla (strings; '' = none)
-- Returns {'ok', card JSON} (the new card).
local id = new_card(ARGV[3], ARGV[2])
return card_reply(id)

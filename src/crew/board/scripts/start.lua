-- Create a queued card and claim it at once: an execution that starts right away, in one round
-- trip. The audit log and the card read exactly as after create then claim (events created and
-- claimed; version 2).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] worker; ARGV[3] lease seconds; ARGV[4] JSON detail for the 'created' event;
-- ARGV[5] JSON object of the card's fields, as for create.lua (status queued)
-- Returns {'ok', card JSON} (the running card, as stored); refusals (nothing written): seq_lost,
-- card_exists, as for create.lua.
local id, c = new_card(ARGV[5], ARGV[4])
if id == nil then return c end
take_lease(id, c, ARGV[2], ARGV[3])
return {'ok', cjson.encode(c)}  -- `c` is the card as stored (new_card and move_card keep it so)

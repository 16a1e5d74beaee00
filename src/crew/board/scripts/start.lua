-- Create a queued card and claim it at once: an execution that starts right away, in one round
-- trip. The audit log and the card read exactly as after create then claim (events created and
-- claimed; version 2).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] worker; ARGV[3] lease seconds; ARGV[4] JSON detail for the 'created' event;
-- ARGV[5..] field, value pairs as for create.lua (status queued)
-- Returns {'ok', card JSON, token, deadline}.
local id = new_card(5, ARGV[4])
local token, deadline = take_lease(id, load_card(id), ARGV[2], ARGV[3])
return {'ok', card_json(id), token, deadline}

-- Refuse a recorded decision the driver must not act on (e.g. its signature does not verify,
-- settings.require_signed): the decision leaves the card, which waits again on the same people
-- (its assignee and everyone allowed), in the status it was answered from (waiting or
-- escalated; a decision written onto a waiting card by hand leaves its status as it is).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] the card version the caller checked; ARGV[4] actor;
-- ARGV[5] event detail JSON (why, who had decided what); ARGV[6] the assignee's webhook URL
-- or '' (none): a delivery is queued in the outbox, as when the card first waited on them
-- Returns the card; refusals: not_found {card}, version {card, version, expected},
-- status {card, status, worker, wanted, done}.
local ANSWERED = {done = true, rejected = true, queued = true, waiting = true, escalated = true}
local id, expected, actor = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if c.version ~= expected then
  return refuse('version', {card = id, version = c.version, expected = expected})
end
if (c.decided_by or '') == '' or not ANSWERED[c.status] then
  return refuse_status(id, c, 'decided', 'refused')
end
local new = c.status
if not ACTIVE_WAIT[new] then
  new = c.answered_from or ''
  if not ACTIVE_WAIT[new] then new = 'waiting' end
end
local version = move_card(id, c, new, {
  decided_by = false, decision = false, comment = false, decided_at = false,
  decided_version = false, edited_output = false, answered_from = false, signature = false,
  signed = false, verified = false, verified_by = false})
log_event(c.run, id, 'refused_decision', actor, version, detail_with(ARGV[5], 'status', new))
rollup_refused(id, c)
if (ARGV[6] or '') ~= '' then queue_delivery(id, c, version, ARGV[6]) end
return card_reply(id)

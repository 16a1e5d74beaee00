-- Flag a waiting or escalated card overdue: past its due time with nobody left in its chain to
-- move it to. It stays with its assignee; the flag (the time) and the event are written once.
-- Not a transition: status and version stay as they are (an answer in flight is not refused).
-- The flag takes the card out of the due index (see index_card in _common.lua), so SLA sweeps do
-- not look at it again (a reassign or a new wait puts it back with a new due time and clears
-- the flag).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] actor; ARGV[4] expected version or ''; ARGV[5] event detail JSON
-- (the assignee and due time are added here)
-- Returns the card; refusals: not_found {card}, status {card, status, worker, wanted, done},
-- version {card, version, expected}, flagged {card, at}.
local id = ARGV[2]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if not ACTIVE_WAIT[c.status] then
  return refuse_status(id, c, 'waiting or escalated', 'flagged overdue')
end
if ARGV[4] ~= '' and ARGV[4] ~= c.version then
  return refuse('version', {card = id, version = c.version, expected = ARGV[4]})
end
if (c.overdue or '') ~= '' then return refuse('flagged', {card = id, at = c.overdue}) end
update_card(id, c, {overdue = NOW_S})
local detail = cjson.decode(ARGV[5])
detail['assignee'] = c.assignee or ''
log_event(c.run, id, 'overdue', ARGV[3], c.version, cjson.encode(detail))
rollup_overdue(c)
return card_reply(id)

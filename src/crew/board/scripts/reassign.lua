-- Hand a waiting or escalated card to someone else (escalating to the next person of a chain).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] new assignee; ARGV[4] actor; ARGV[5] reason; ARGV[6] allowed JSON;
-- ARGV[7] due or ''; ARGV[8] expected version or ''; ARGV[9] event detail JSON (its 'from' is
-- set here, to the assignee the card had); ARGV[10] event name or '' ('reassigned');
-- ARGV[11] '1' to keep the card's reason (an SLA move: the reason it waits has not changed);
-- ARGV[12] the new assignee's webhook URL or '' (none): a delivery is queued in the outbox (see
-- queue_delivery in _common.lua), naming the assignee the card had
-- Returns the card; refusals: not_found {card}, status {card, status, worker, wanted, done},
-- version {card, version, expected}. Clears the overdue flag; the run's waiting_on entry for
-- the card names the new assignee.
local id, to, actor, reason, allowed, due = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if not ACTIVE_WAIT[c.status] then
  return refuse_status(id, c, 'waiting or escalated', 'reassigned')
end
if ARGV[8] ~= '' and ARGV[8] ~= c.version then
  return refuse('version', {card = id, version = c.version, expected = ARGV[8]})
end
local previous = c.assignee
local fields = {assignee = to, allowed = allowed, due = due, waiting_since = NOW_S,
                overdue = false}
if (ARGV[11] or '') ~= '1' then fields.reason = reason end
local version = move_card(id, c, c.status, fields)
-- the run's record names who it waits on: keep it in step
local waiting_json = redis.call('HGET', K.run(c.run), 'waiting_on')
if waiting_json and string.find(waiting_json, '"' .. id .. '"', 1, true) then
  local waiting = cjson.decode(waiting_json)
  for _, w in ipairs(waiting) do
    if type(w) == 'table' and w.card == id then w.assignee = to end
  end
  redis.call('HSET', K.run(c.run), 'waiting_on', cjson.encode(waiting))
end
local detail = cjson.decode(ARGV[9])
detail['from'] = previous or ''
local event = ARGV[10] or ''
if event == '' then event = 'reassigned' end
log_event(c.run, id, event, actor, version, cjson.encode(detail))
rollup_reassigned(c, previous, (ARGV[11] or '') == '1')
if (ARGV[12] or '') ~= '' then queue_delivery(id, c, version, ARGV[12], previous) end
return card_reply(id)

-- A running card now needs a person: running -> waiting (checkpoint) or escalated (escalation).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4] kind 'checkpoint'|'escalation'; ARGV[5] assignee;
-- ARGV[6] allowed (JSON list of people who may answer); ARGV[7] due or ''; ARGV[8] reason;
-- ARGV[9] output JSON or '' (keep); ARGV[10] confidence or '' (keep); ARGV[11] actor;
-- ARGV[12] event detail JSON; ARGV[13] escalation chain JSON or '' (keep); ARGV[14] SLA seconds
-- or '' (keep); ARGV[15] the assignee's webhook URL or '' (none): a delivery is queued in the
-- outbox (see queue_delivery in _common.lua)
-- Returns the card; errors: not_found, lease_lost.
local id, token, kind, assignee = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local allowed, due, reason = ARGV[6], ARGV[7], ARGV[8]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local new = 'waiting'
if kind == 'escalation' then new = 'escalated' end
local version = bump(c)
local key = K.card(id)
redis.call('HSET', key, 'status', new, 'kind', kind, 'assignee', assignee, 'allowed', allowed,
           'due', due, 'reason', reason, 'lease_token', '', 'lease_deadline', '', 'worker', '',
           'waiting_since', NOW_S, 'updated', NOW_S, 'version', version)
-- a card that waits again (after a retry) is answerable again
redis.call('HDEL', key, 'decided_by', 'decision', 'comment', 'decided_at', 'decided_version',
           'edited_output')
if ARGV[9] ~= '' then redis.call('HSET', key, 'output', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', key, 'confidence', ARGV[10]) end
if (ARGV[13] or '') ~= '' then redis.call('HSET', key, 'chain', ARGV[13]) end
if (ARGV[14] or '') ~= '' then redis.call('HSET', key, 'sla', ARGV[14]) end
redis.call('HDEL', key, 'overdue')  -- a new wait starts a new SLA
redis.call('ZREM', K.leases(), id)
set_status(id, 'running', new)
inbox_add(id, assignee, allowed)
if due ~= '' then redis.call('ZADD', K.due(), due, id) end
log_event(c.run, id, new, ARGV[11], version, ARGV[12])
if (ARGV[15] or '') ~= '' then
  c.kind, c.assignee, c.reason, c.due = kind, assignee, reason, due
  queue_delivery(id, c, version, ARGV[15], '')
end
return card_reply(id)

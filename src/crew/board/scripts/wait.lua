-- A running card now needs a person: running -> waiting (checkpoint) or escalated (escalation).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] token; ARGV[4] kind 'checkpoint'|'escalation'; ARGV[5] assignee;
-- ARGV[6] allowed (JSON list of people who may answer); ARGV[7] due or ''; ARGV[8] reason;
-- ARGV[9] output JSON or '' (keep); ARGV[10] confidence or '' (keep); ARGV[11] actor;
-- ARGV[12] event detail JSON; ARGV[13] escalation chain JSON or '' (keep); ARGV[14] SLA seconds
-- or '' (keep); ARGV[15] the assignee's webhook URL or '' (none): a delivery is queued in the
-- outbox (see queue_delivery in _common.lua); ARGV[16] model usage JSON or '' (keep);
-- ARGV[17] an escalation's kind of reason (crew.types.EscalationReason) or '' (none)
-- Returns the card; refusals: not_found {card}, lease_lost {card, status, worker, token}.
local id, token, kind, assignee = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local c = load_card(id)
local refused = check_lease(id, c, token)
if refused then return refused end
local new = 'waiting'
if kind == 'escalation' then new = 'escalated' end
-- a card that waits again (after a retry) is answerable again, and a new wait starts a new SLA
local fields = {kind = kind, assignee = assignee, allowed = ARGV[6], due = ARGV[7],
                reason = ARGV[8], waiting_since = NOW_S, decided_by = false, decision = false,
                comment = false, decided_at = false, decided_version = false,
                edited_output = false, overdue = false, reason_kind = false}
if (ARGV[17] or '') ~= '' then fields.reason_kind = ARGV[17] end
if ARGV[9] ~= '' then fields.output = ARGV[9] end
if ARGV[10] ~= '' then fields.confidence = ARGV[10] end
if (ARGV[13] or '') ~= '' then fields.chain = ARGV[13] end
if (ARGV[14] or '') ~= '' then fields.sla = ARGV[14] end
if (ARGV[16] or '') ~= '' then fields.usage = ARGV[16] end
local version = move_card(id, c, new, fields)
log_event(c.run, id, new, ARGV[11], version, ARGV[12])
rollup_waited(id, c, kind, ARGV[8], ARGV[17])
if (ARGV[15] or '') ~= '' then queue_delivery(id, c, version, ARGV[15], '') end
return card_reply(id)

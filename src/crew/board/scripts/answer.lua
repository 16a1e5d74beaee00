-- Record a person's answer to a waiting or escalated card, once. The decision says where the card
-- goes: approve and edit accept its output (done), submit hands a human step's output in (done),
-- reject ends it (rejected), retry queues the step again (queued).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] person; ARGV[4] decision (approve | edit | reject | retry | submit);
-- ARGV[5] comment; ARGV[6] edited output JSON or ''; ARGV[7] expected version or '';
-- ARGV[8] event detail JSON (the card's new status is added here, as `status`)
-- ARGV[9] the answer's proof, a JSON object of PROOF_FIELDS (crew/people/signing.py), or ''
-- Returns the card; refusals (checked in this order): not_found {card}, decision {card,
-- decision}, not_allowed {card, person, allowed, assignee, kind, step}, decided {card, by,
-- decision, at, version}, status {card, status, worker, wanted, done}, version {card, version,
-- expected}.
local NEXT = {approve = 'done', edit = 'done', reject = 'rejected', retry = 'queued',
              submit = 'done'}
local id, person, decision = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
local new = NEXT[decision]
if new == nil then return refuse('decision', {card = id, decision = decision}) end
local _, may = answerers(c.assignee, c.allowed)
local function not_allowed()
  return refuse('not_allowed', {card = id, person = person, allowed = c.allowed or '',
                                assignee = c.assignee or '', kind = c.kind, step = c.step})
end
if (c.allowed or '') ~= '' and not may[person] then return not_allowed() end
if (c.decided_by or '') ~= '' then
  return refuse('decided', {card = id, by = c.decided_by, decision = c.decision,
                            at = c.decided_at, version = c.decided_version})
end
if not ACTIVE_WAIT[c.status] then return refuse_status(id, c, 'waiting or escalated', 'answered') end
if not may[person] then return not_allowed() end
if ARGV[7] ~= '' and ARGV[7] ~= c.version then
  return refuse('version', {card = id, version = c.version, expected = ARGV[7]})
end
local fields = {decided_by = person, decision = decision, comment = ARGV[5], decided_at = NOW_S,
                decided_version = c.version, answered_from = c.status}
if ARGV[6] ~= '' then fields.edited_output = ARGV[6] end
local PROOF_FIELDS = {'signature', 'signed', 'verified', 'verified_by'}
local proof = {}
if (ARGV[9] or '') ~= '' then proof = cjson.decode(ARGV[9]) end
for _, name in ipairs(PROOF_FIELDS) do
  local value = proof[name]
  if type(value) == 'string' and value ~= '' then fields[name] = value else fields[name] = false end
end
local version = move_card(id, c, new, fields)
log_event(c.run, id, 'answered', person, version, detail_with(ARGV[8], 'status', new))
rollup_answered(id, c, person, decision)
return card_reply(id)

-- Record a person's answer to a waiting or escalated card, once.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] person; ARGV[4] decision; ARGV[5] comment; ARGV[6] edited output
-- JSON or ''; ARGV[7] expected version or ''; ARGV[8] the status it moves to
-- (done | rejected | queued); ARGV[9] event detail JSON
-- Returns the card; errors (checked in this order): not_found, not_allowed, decided, status,
-- version.
local id, person, decision = ARGV[2], ARGV[3], ARGV[4]
local c = load_card(id)
if c == nil then return {'err', 'not_found', id} end
local people, may = answerers(c.assignee, c.allowed)
if (c.allowed or '') ~= '' and not may[person] then
  return {'err', 'not_allowed', id, c.allowed, c.assignee or '', c.kind, c.step}
end
if (c.decided_by or '') ~= '' then
  return {'err', 'decided', id, c.decided_by, c.decision, c.decided_at, c.decided_version}
end
if not ACTIVE_WAIT[c.status] then return {'err', 'status', id, c.status, ''} end
if not may[person] then
  return {'err', 'not_allowed', id, c.allowed or '', c.assignee or '', c.kind, c.step}
end
if ARGV[7] ~= '' and ARGV[7] ~= c.version then
  return {'err', 'version', id, c.version, ARGV[7]}
end
local new = ARGV[8]
local version = bump(c)
local key = K.card(id)
redis.call('HSET', key, 'status', new, 'decided_by', person, 'decision', decision,
           'comment', ARGV[5], 'decided_at', NOW_S, 'decided_version', c.version,
           'updated', NOW_S, 'version', version)
if ARGV[6] ~= '' then redis.call('HSET', key, 'edited_output', ARGV[6]) end
if TERMINAL[new] then redis.call('HSET', key, 'finished', NOW_S) end
inbox_remove(id, c)
redis.call('ZREM', K.due(), id)
set_status(id, c.status, new)
log_event(c.run, id, 'answered', person, version, ARGV[9])
return card_reply(id)

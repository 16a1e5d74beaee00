-- Flag a waiting or escalated card overdue: past its due time with nobody left in its chain to
-- move it to. It stays with its assignee; the flag (the time) and the event are written once.
-- Not a transition: status and version stay as they are (an answer in flight is not refused).
-- The card leaves the due index, so SLA sweeps do not look at it again (a reassign or a new
-- wait puts it back with a new due time and clears the flag).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] actor; ARGV[4] expected version or ''; ARGV[5] event detail JSON
-- (the assignee and due time are added here)
-- Returns the card; errors: not_found, status, version, flagged.
local id = ARGV[2]
local c = load_card(id)
if c == nil then return {'err', 'not_found', id} end
if not ACTIVE_WAIT[c.status] then return {'err', 'status', id, c.status, ''} end
if ARGV[4] ~= '' and ARGV[4] ~= c.version then
  return {'err', 'version', id, c.version, ARGV[4]}
end
if (c.overdue or '') ~= '' then return {'err', 'flagged', id, c.overdue} end
redis.call('HSET', K.card(id), 'overdue', NOW_S)
redis.call('ZREM', K.due(), id)
local detail = cjson.decode(ARGV[5])
detail['assignee'] = c.assignee or ''
log_event(c.run, id, 'overdue', ARGV[3], c.version, cjson.encode(detail))
return card_reply(id)

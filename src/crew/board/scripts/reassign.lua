-- Hand a waiting or escalated card to someone else (escalating to the next person of a chain).
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] new assignee; ARGV[4] actor; ARGV[5] reason; ARGV[6] allowed JSON;
-- ARGV[7] due or ''; ARGV[8] expected version or ''; ARGV[9] event detail JSON
-- Returns the card; errors: not_found, status, version.
local id, to, actor, reason, allowed, due = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local c = load_card(id)
if c == nil then return {'err', 'not_found', id} end
if not ACTIVE_WAIT[c.status] then return {'err', 'status', id, c.status, ''} end
if ARGV[8] ~= '' and ARGV[8] ~= c.version then
  return {'err', 'version', id, c.version, ARGV[8]}
end
local version = bump(c)
inbox_remove(id, c)
redis.call('HSET', K.card(id), 'assignee', to, 'allowed', allowed, 'due', due, 'reason', reason,
           'waiting_since', NOW_S, 'updated', NOW_S, 'version', version)
inbox_add(id, to, allowed)
if due ~= '' then redis.call('ZADD', K.due(), due, id) else redis.call('ZREM', K.due(), id) end
log_event(c.run, id, 'reassigned', actor, version, ARGV[9])
return card_reply(id)

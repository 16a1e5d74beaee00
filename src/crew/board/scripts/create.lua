-- Create a card.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] JSON detail for the 'created' event
-- ARGV[3..] field, value pairs: run, playbook, step, kind, role, assignee, owner, status,
--           max_attempts, due, item, revision, detail, allowed, reason, output, confidence,
--           waiting_since, created_by (strings; '' = none)
-- Returns {'ok', field, value, ...} (the new card).
local f = {}
for i = 3, #ARGV, 2 do f[ARGV[i]] = ARGV[i + 1] end

local n = redis.call('INCR', K.seq())
local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
local s = ''
repeat
  local d = n % 36
  s = string.sub(digits, d + 1, d + 1) .. s
  n = math.floor(n / 36)
until n == 0
local id = 'c' .. s

local pairs_ = {'id', id, 'created', NOW_S, 'updated', NOW_S, 'version', '1', 'attempt', '0',
                'lease_seq', '0'}
for i = 3, #ARGV do table.insert(pairs_, ARGV[i]) end
redis.call('HSET', K.card(id), unpack(pairs_))
set_status(id, nil, f.status)
redis.call('ZADD', K.run_cards(f.run), NOW_S, id)
if ACTIVE_WAIT[f.status] then
  redis.call('HSET', K.card(id), 'waiting_since', NOW_S)
  inbox_add(id, f.assignee, f.allowed)
  if f.due ~= '' then redis.call('ZADD', K.due(), f.due, id) end
end
log_event(f.run, id, 'created', f.created_by, 1, ARGV[2])
return card_reply(id)

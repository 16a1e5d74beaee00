-- Claim a queued card: it becomes running under a lease with a new fencing token.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] worker; ARGV[4] lease seconds
-- Returns {'ok', token, deadline, version}; errors: not_found, status.
local id, worker = ARGV[2], ARGV[3]
local c = load_card(id)
if c == nil then return {'err', 'not_found', id} end
if c.status ~= 'queued' then return {'err', 'status', id, c.status, c.worker or ''} end
local seq = tonumber(c.lease_seq or '0') + 1
local token = tostring(seq)
local deadline = string.format('%.6f', NOW + tonumber(ARGV[4]))
local attempt = tonumber(c.attempt or '0') + 1
local version = bump(c)
redis.call('HSET', K.card(id), 'status', 'running', 'worker', worker, 'lease_token', token,
           'lease_seq', tostring(seq), 'lease_deadline', deadline, 'attempt', tostring(attempt),
           'updated', NOW_S, 'version', version)
set_status(id, c.status, 'running')
redis.call('ZADD', K.leases(), deadline, id)
log_event(c.run, id, 'claimed', worker, version,
          cjson.encode({worker = worker, attempt = attempt, lease_seconds = tonumber(ARGV[4])}))
return {'ok', token, deadline, version}

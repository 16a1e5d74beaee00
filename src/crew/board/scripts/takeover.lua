-- The run's driver takes over a card a stopped driver left running (its tool loop goes on from
-- the card's transcript): running -> running for ARGV[3] under a new lease and fencing token, so
-- the old driver's token is refused from now on. Only the driver holding the run's lease calls it.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] card id; ARGV[3] worker; ARGV[4] lease seconds; ARGV[5] reason
-- Returns {'ok', token, deadline, version}; refusals: not_found {card}, status {card, status,
-- worker, wanted, done}.
local id, worker = ARGV[2], ARGV[3]
local c = load_card(id)
if c == nil then return refuse('not_found', {card = id}) end
if c.status ~= 'running' and c.status ~= 'queued' then
  return refuse_status(id, c, 'running or queued', 'taken over')
end
if c.status == 'running' then
  log_event(c.run, id, 'taken_over', worker, c.version,
            cjson.encode({from = c.worker or '', reason = ARGV[5]}))
end
local token, deadline, version = take_lease(id, c, worker, ARGV[4])
return {'ok', token, deadline, version}

-- Retention: delete cards and runs that finished more than ARGV[2] seconds ago, and drop them
-- from every index.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] retention seconds; ARGV[3] at most this many cards (and runs) per call
-- Returns {'ok', cards deleted, runs deleted}. A purged run's LangGraph state goes with it: the
-- saver's index of the run's thread (K.run_state) lists every key of that state. A purged card's
-- webhook deliveries still in the outbox are dropped with it. A run's texts (K.run_texts) go with
-- the run, or with its last card when it has no run record.
local cutoff = string.format('%.6f', NOW - tonumber(ARGV[2]))
local limit = tonumber(ARGV[3])
local cards = redis.call('ZRANGEBYSCORE', K.finished(), '-inf', cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(cards) do
  local c = load_card(id)
  if c ~= nil then
    redis.call('ZREM', K.status(c.status), id)
    redis.call('ZREM', K.run_cards(c.run), id)
    redis.call('DEL', K.card(id))
    if redis.call('ZCARD', K.run_cards(c.run)) == 0 and redis.call('EXISTS', K.run(c.run)) == 0 then
      redis.call('DEL', K.run_texts(c.run))
    end
  end
  -- webhook deliveries not finished yet go with their card (the outbox stays bounded)
  local pending = redis.call('HKEYS', K.deliveries(id))
  for _, n in ipairs(pending) do redis.call('ZREM', K.outbox(), id .. ':' .. n) end
  if #pending > 0 then redis.call('DEL', K.deliveries(id)) end
  redis.call('ZREM', K.finished(), id)
end
local runs = redis.call('ZRANGEBYSCORE', K.runs_finished(), '-inf', cutoff, 'LIMIT', 0, limit)
-- The saver percent-encodes thread ids like Python's quote(id, safe='').
local function encoded(id)
  return (string.gsub(id, '[^%w%-%._~]', function(ch)
    return string.format('%%%02X', string.byte(ch))
  end))
end
for _, run in ipairs(runs) do
  local state = K.run_state(encoded(run))
  local state_keys = redis.call('HKEYS', state)
  for i = 1, #state_keys, 500 do
    redis.call('DEL', unpack(state_keys, i, math.min(i + 499, #state_keys)))
  end
  redis.call('DEL', state, K.run(run), K.run_events(run), K.run_pinned(run),
             K.run_texts(run))
  if redis.call('ZCARD', K.run_cards(run)) == 0 then redis.call('DEL', K.run_cards(run)) end
  redis.call('ZREM', K.runs(), run)
  redis.call('ZREM', K.runs_finished(), run)
end
return {'ok', #cards, #runs}

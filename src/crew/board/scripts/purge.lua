-- Retention: delete cards and runs that finished more than ARGV[2] seconds ago, and drop them
-- from every index.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] retention seconds; ARGV[3] at most this many cards (and runs) per call
-- Returns {'ok', cards deleted, run id, ...} (the runs deleted). A purged card's webhook
-- deliveries still in the outbox are dropped with it. A run's texts (K.run_texts) go with the
-- run, or with its last card when it has no run record. A purged run's LangGraph state is not the
-- board's: the caller has the saver delete it (crew.engine.retention).
local cutoff = string.format('%.6f', NOW - tonumber(ARGV[2]))
local limit = tonumber(ARGV[3])
local cards = redis.call('ZRANGEBYSCORE', K.finished(), '-inf', cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(cards) do
  local c = load_card(id)
  if c ~= nil then
    unindex_card(id, c)
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
  redis.call('DEL', K.transcript(id))  -- an agent card's tool loop goes with it
  redis.call('ZREM', K.finished(), id)
end
local runs = redis.call('ZRANGEBYSCORE', K.runs_finished(), '-inf', cutoff, 'LIMIT', 0, limit)
for _, run in ipairs(runs) do
  local r = redis.call('HMGET', K.run(run), 'key', 'status')
  if (r[1] or '') ~= '' and redis.call('GET', K.run_key(r[1])) == run then
    redis.call('DEL', K.run_key(r[1]))  -- the key may start a new run once this one is gone
  end
  if r[2] then index_run(run, r[2], 'done') end
  redis.call('DEL', K.run(run), K.run_events(run), K.run_pinned(run), K.run_texts(run))
  if redis.call('ZCARD', K.run_cards(run)) == 0 then redis.call('DEL', K.run_cards(run)) end
  redis.call('ZREM', K.runs(), run)
  redis.call('ZREM', K.runs_finished(), run)
end
local reply = {'ok', #cards}
for _, run in ipairs(runs) do reply[#reply + 1] = run end
return reply

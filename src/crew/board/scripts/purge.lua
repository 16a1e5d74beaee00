-- Retention: delete cards and runs that finished more than ARGV[2] seconds ago, and drop them
-- from every index.
-- KEYS[1] board prefix; ARGV[1] now or ''
-- ARGV[2] retention seconds; ARGV[3] at most this many cards (and runs) per call
-- Returns {'ok', cards deleted, runs deleted}.
local cutoff = string.format('%.6f', NOW - tonumber(ARGV[2]))
local limit = tonumber(ARGV[3])
local cards = redis.call('ZRANGEBYSCORE', K.finished(), '-inf', cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(cards) do
  local c = load_card(id)
  if c ~= nil then
    redis.call('ZREM', K.status(c.status), id)
    redis.call('ZREM', K.run_cards(c.run), id)
    redis.call('DEL', K.card(id))
  end
  redis.call('ZREM', K.finished(), id)
end
local runs = redis.call('ZRANGEBYSCORE', K.runs_finished(), '-inf', cutoff, 'LIMIT', 0, limit)
for _, run in ipairs(runs) do
  redis.call('DEL', K.run(run), K.run_events(run))
  if redis.call('ZCARD', K.run_cards(run)) == 0 then redis.call('DEL', K.run_cards(run)) end
  redis.call('ZREM', K.runs(), run)
  redis.call('ZREM', K.runs_finished(), run)
end
return {'ok', #cards, #runs}

-- Roll-ups for `crew report` (DESIGN §10), after _common.lua and _runs.lua: bounded counters and
-- histograms kept in the same atomic step as the transition they count, so a report reads two
-- hashes whatever the period or the history (never a card), and covers history older than card
-- retention.
--
-- Layout (keys from crew/board/keys.py): K.rollup_total() is a hash of running totals since the
-- roll-ups began, fields "<section>|<playbook>|<name>|<metric>" -> a number:
--   r|<playbook>|<role>|...    ok (accepted at once), esc:<reason kind>, esc_dec:<decision>,
--                              cp:<decision> (checkpoints that showed its output),
--                              band:<b> (executions with confidence in [b/10, (b+1)/10)),
--                              kept:<b> / changed:<b> (what people later did with them),
--                              tok_in, tok_out, calls, cost
--   p|<playbook>|<person>|...  dec:<decision>, ttd:<bucket>, ttd_sum (time to decide),
--                              sla_miss, reassigned (handed on by someone)
--   b|<playbook>|-|...         out:<status> (runs by outcome), lead:/wait:/ai:<bucket> and
--                              lead_sum, wait_sum (lead time, waiting on people, the rest)
-- A histogram bucket of t seconds is ceil(2 * log2(t)) (0 for t <= 1): edges a factor sqrt(2)
-- apart, at most ~45 buckets up to a month. K.rollup_day(d) is a copy of the totals as they were
-- when UTC day d (days since the epoch) began, made by the day's first transition; K.rollup_days
-- indexes those days (score = day). The figures of days a..b are then the totals at the first
-- snapshot after b (or now) minus those at the first snapshot from a on. Snapshots older than
-- ROLLUP_DAYS are deleted when a new day starts, so roll-ups stay bounded.
-- Card fields the roll-ups keep: rw ('1' while the card counts as its run waiting on people),
-- rj ('kept' or 'changed': its calibration outcome, counted once; a later change moves it),
-- ru (what counting its decision added, JSON: taken back if a driver refuses the decision).
-- Run record fields: rw_open, rw_since, rw_total (the run's time waiting on people so far).

local ROLLUP_READY = false

local function rollup_key()
  if ROLLUP_READY then return K.rollup_total() end
  ROLLUP_READY = true
  local day = math.floor(NOW / 86400)
  if redis.call('ZADD', K.rollup_days(), 'NX', day, tostring(day)) == 1 then
    redis.call('HSETNX', K.rollup_meta(), 'since', NOW_S)
    redis.call('COPY', K.rollup_total(), K.rollup_day(day), 'REPLACE')
    local cutoff = day - tonumber(ROLLUP_DAYS)
    local old = redis.call('ZRANGEBYSCORE', K.rollup_days(), '-inf', '(' .. cutoff)
    for _, d in ipairs(old) do redis.call('DEL', K.rollup_day(d)) end
    if #old > 0 then redis.call('ZREMRANGEBYSCORE', K.rollup_days(), '-inf', '(' .. cutoff) end
  end
  return K.rollup_total()
end

local function rollup_field(section, playbook, name, metric)
  return section .. '|' .. (playbook or '') .. '|' .. (name or '') .. '|' .. metric
end

-- While a person's decision is counted (rollup_answered), what the counting did, so that a
-- driver refusing the decision (refuse.lua) takes exactly that back: kept on the card as `ru`.
local ROLLUP_UNDO = nil

-- Add `by` to the roll-up field `field` (an integer; with `float`, a number of seconds or
-- dollars), noted in ROLLUP_UNDO while a decision is being counted.
local function rollup_incr(field, by, float)
  if float then
    redis.call('HINCRBYFLOAT', rollup_key(), field, string.format('%.6f', by))
  else
    redis.call('HINCRBY', rollup_key(), field, by)
  end
  if ROLLUP_UNDO then ROLLUP_UNDO[#ROLLUP_UNDO + 1] = {f = field, by = by, float = float} end
end

-- Add the integer `by` to a counter (rollup_sum: a number of seconds or dollars).
local function rollup_add(section, playbook, name, metric, by)
  rollup_incr(rollup_field(section, playbook, name, metric), by, nil)
end

local function rollup_sum(section, playbook, name, metric, by)
  rollup_incr(rollup_field(section, playbook, name, metric), by, true)
end

local function rollup_bucket(seconds)
  if seconds <= 1 then return 0 end
  return math.ceil(2 * math.log(seconds) / math.log(2))
end

local function rollup_band(confidence)
  local value = tonumber(confidence or '')
  if value == nil then return nil end
  local band = math.floor(value * 10)
  if band < 0 then band = 0 end
  if band > 9 then band = 9 end
  return tostring(band)
end

-- An escalation's kind from its words: for a card whose step did not say it (written by an older
-- crew); newer ones carry `reason_kind` (crew.types.EscalationReason).
local function rollup_reason_kind(reason)
  local r = string.lower(reason or '')
  if string.find(r, '^confidence ') then return 'low_confidence' end
  if string.find(r, 'too many tool calls', 1, true) then return 'too_many_tool_calls' end
  if string.find(r, 'invalid', 1, true) then return 'invalid_output' end
  if string.find(r, 'judge', 1, true) then return 'no_verdict' end
  if string.find(r, 'may or may not have run', 1, true) then return 'uncertain_effect' end
  if string.find(r, 'model', 1, true) then return 'model_failed' end
  return 'other'
end

-- A JSON field as stored (maybe a reference to the run's texts, see crew/board/texts.py) decoded
-- with its long strings left empty: the roll-ups read only short fields (ids, lists of steps).
local function rollup_json(value)
  if value == nil or value == '' then return nil end
  if string.sub(value, 1, #TEXTS_MARK) == TEXTS_MARK then
    local parts = {}
    for _, piece in ipairs(cjson.decode(string.sub(value, #TEXTS_MARK + 1))) do
      if type(piece) == 'string' then parts[#parts + 1] = piece end
    end
    value = table.concat(parts)
  end
  local ok, decoded = pcall(cjson.decode, value)
  if ok then return decoded end
  return nil
end

-- An agent execution ended (complete.lua: 'ok'; wait.lua: 'escalated' with its reason). Card `c`
-- as the transition left it.
local function rollup_executed(id, c, outcome, reason, reason_kind)
  if (c.role or '') == '' then return end
  local pb, role = c.playbook, c.role
  if outcome == 'ok' then
    rollup_add('r', pb, role, 'ok', 1)
  else
    if (reason_kind or '') == '' then reason_kind = rollup_reason_kind(reason) end
    rollup_add('r', pb, role, 'esc:' .. reason_kind, 1)
  end
  local band = rollup_band(c.confidence)
  if band then rollup_add('r', pb, role, 'band:' .. band, 1) end
  local usage = rollup_json(c.usage)
  if type(usage) == 'table' then
    rollup_add('r', pb, role, 'tok_in', tonumber(usage.input_tokens) or 0)
    rollup_add('r', pb, role, 'tok_out', tonumber(usage.output_tokens) or 0)
    rollup_add('r', pb, role, 'calls', tonumber(usage.calls) or 0)
    if type(usage.cost) == 'number' then rollup_sum('r', pb, role, 'cost', usage.cost) end
  end
end

-- What people did with an output of confidence band `band` (kept it unchanged or changed it):
-- counted once per output; a later change of an output counted as kept moves its count.
local function rollup_judged(id, pb, role, band, verdict, judged)
  if band == nil then return end
  judged = judged or ''
  if judged == verdict or judged == 'changed' then return end
  if judged == 'kept' then rollup_add('r', pb, role, 'kept:' .. band, -1) end
  rollup_add('r', pb, role, verdict .. ':' .. band, 1)
  redis.call('HSET', K.card(id), 'rj', verdict)
  if ROLLUP_UNDO then ROLLUP_UNDO[#ROLLUP_UNDO + 1] = {card = id, rj = judged} end
end

-- A checkpoint's decision goes to the roles whose outputs it showed (the done agent cards of the
-- steps in its detail's `show`, of their latest revision); an edit counts against the output it
-- replaced (the first step shown), the others' outputs went on unchanged.
local function rollup_checkpoint(c, decision)
  local detail = rollup_json(c.detail)
  if type(detail) ~= 'table' or type(detail.show) ~= 'table' or #detail.show == 0 then return end
  local shown, first = {}, detail.show[1]
  for _, step in ipairs(detail.show) do shown[step] = true end
  local latest, found = {}, {}
  for _, card in ipairs(redis.call('ZRANGE', K.run_cards(c.run), 0, -1)) do
    local f = redis.call('HMGET', K.card(card), 'step', 'role', 'status', 'kind', 'revision',
                         'confidence', 'rj')
    if shown[f[1]] and (f[2] or '') ~= '' and f[3] == 'done'
        and (f[4] == 'agent' or f[4] == 'escalation') then
      local revision = tonumber(f[5] or '0') or 0
      if latest[f[1]] == nil or revision > latest[f[1]] then latest[f[1]] = revision end
      found[#found + 1] = {card, f[1], f[2], revision, f[6], f[7]}
    end
  end
  local counted = {}
  for _, x in ipairs(found) do
    local card, step, role, revision = x[1], x[2], x[3], x[4]
    if revision == latest[step] then
      local said = decision
      if decision == 'edit' and step ~= first then said = 'approve' end
      if not counted[role .. '|' .. said] then
        counted[role .. '|' .. said] = true
        rollup_add('r', c.playbook, role, 'cp:' .. said, 1)
      end
      local verdict = 'kept'
      if said ~= 'approve' then verdict = 'changed' end
      rollup_judged(card, c.playbook, role, rollup_band(x[5]), verdict, x[6])
    end
  end
end

-- The run of card `c` starts waiting on a person for this card (create.lua of a card that waits,
-- wait.lua): the run's time waiting on people is the union of its cards' waits.
local function rollup_wait_begin(id, c)
  if c.rw == '1' or (c.run or '') == '' then return end
  redis.call('HSET', K.card(id), 'rw', '1')
  c.rw = '1'
  if redis.call('EXISTS', K.run(c.run)) == 0 then return end
  if redis.call('HINCRBY', K.run(c.run), 'rw_open', 1) == 1 then
    redis.call('HSET', K.run(c.run), 'rw_since', NOW_S)
  end
end

-- Card `c` no longer waits on a person (answered, cancelled, requeued).
local function rollup_wait_end(id, c)
  if c.rw ~= '1' then return end
  redis.call('HDEL', K.card(id), 'rw')
  c.rw = nil
  if redis.call('EXISTS', K.run(c.run)) == 0 then return end
  if redis.call('HINCRBY', K.run(c.run), 'rw_open', -1) <= 0 then
    local since = tonumber(redis.call('HGET', K.run(c.run), 'rw_since') or '') or NOW
    redis.call('HSET', K.run(c.run), 'rw_open', '0')
    redis.call('HINCRBYFLOAT', K.run(c.run), 'rw_total', string.format('%.6f', NOW - since))
  end
end

-- A person answered card `c` (as answer.lua left it) with `decision`.
local function rollup_answered(id, c, person, decision)
  local pb = c.playbook
  rollup_wait_end(id, c)
  ROLLUP_UNDO = {}
  rollup_add('p', pb, person, 'dec:' .. decision, 1)
  local since = tonumber(c.waiting_since or '')
  if since then
    local took = NOW - since
    if took < 0 then took = 0 end
    rollup_add('p', pb, person, 'ttd:' .. rollup_bucket(took), 1)
    rollup_sum('p', pb, person, 'ttd_sum', took)
  end
  if c.kind == 'escalation' and (c.role or '') ~= '' then
    rollup_add('r', pb, c.role, 'esc_dec:' .. decision, 1)
    local verdict = 'changed'
    if decision == 'approve' then verdict = 'kept' end
    rollup_judged(id, pb, c.role, rollup_band(c.confidence), verdict, c.rj)
  elseif c.kind == 'checkpoint' then
    rollup_checkpoint(c, decision)
  end
  redis.call('HSET', K.card(id), 'ru', cjson.encode(ROLLUP_UNDO))
  ROLLUP_UNDO = nil
end

-- A driver refused the decision recorded on card `c` (refuse.lua): what counting it added is
-- taken back (in reverse order), and the card waits on people again.
local function rollup_refused(id, c)
  if (c.ru or '') ~= '' then
    local undo = cjson.decode(c.ru)
    for i = #undo, 1, -1 do
      local u = undo[i]
      if u.card then
        if (u.rj or '') == '' then
          redis.call('HDEL', K.card(u.card), 'rj')
        else
          redis.call('HSET', K.card(u.card), 'rj', u.rj)
        end
      else
        rollup_incr(u.f, -u.by, u.float)
      end
    end
    redis.call('HDEL', K.card(id), 'ru')
  end
  rollup_wait_begin(id, c)
end

-- Card `c` was handed from `previous` to someone else: by the SLA sweep (`sla`: a miss of
-- `previous`) or by a person.
local function rollup_reassigned(c, previous, sla)
  if (previous or '') == '' then return end
  if sla then
    rollup_add('p', c.playbook, previous, 'sla_miss', 1)
  else
    rollup_add('p', c.playbook, previous, 'reassigned', 1)
  end
end

-- Card `c` is past due with nobody left in its chain: a miss of its assignee.
local function rollup_overdue(c)
  if (c.assignee or '') ~= '' then rollup_add('p', c.playbook, c.assignee, 'sla_miss', 1) end
end

-- Run `run` finished with `status`: its outcome and lead time, split into waiting on people and
-- the rest (AI working, or waiting for a worker).
local function rollup_run_ended(run, status)
  local r = redis.call('HMGET', K.run(run), 'playbook', 'created', 'rw_open', 'rw_since', 'rw_total')
  local pb = r[1] or ''
  rollup_add('b', pb, '-', 'out:' .. status, 1)
  local lead = NOW - (tonumber(r[2] or '') or NOW)
  if lead < 0 then lead = 0 end
  local waited = tonumber(r[5] or '') or 0
  if (tonumber(r[3] or '') or 0) > 0 then waited = waited + NOW - (tonumber(r[4] or '') or NOW) end
  if waited > lead then waited = lead end
  if waited < 0 then waited = 0 end
  rollup_add('b', pb, '-', 'lead:' .. rollup_bucket(lead), 1)
  rollup_add('b', pb, '-', 'wait:' .. rollup_bucket(waited), 1)
  rollup_add('b', pb, '-', 'ai:' .. rollup_bucket(lead - waited), 1)
  rollup_sum('b', pb, '-', 'lead_sum', lead)
  rollup_sum('b', pb, '-', 'wait_sum', waited)
end

-- One-line hooks of create.lua and wait.lua.
local function rollup_created(id, c)
  if ACTIVE_WAIT[c.status] then rollup_wait_begin(id, c) end
end

local function rollup_waited(id, c, kind, reason, reason_kind)
  if kind == 'escalation' then rollup_executed(id, c, 'escalated', reason, reason_kind) end
  rollup_wait_begin(id, c)
end

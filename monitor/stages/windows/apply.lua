-- Apply a batch of scored stories to the event-time buckets, idempotently by story id.
-- Runs atomically, so two workers (or a redelivery) applying the same story count it once.
-- ARGV[1] root "<ns>:w"   ARGV[2] retention seconds   ARGV[3] allowed lateness ms
-- ARGV[4] samples kept per bucket   ARGV[5] recent headlines kept   ARGV[6] JSON array of stories:
--   {id, t (event ms), c ("neg"|"neu"|"pos"), ss (score*1e6), nv (novelty*1e6), nvs (novelty*score*1e6),
--    sc (score), j (sample JSON), r (recent JSON), k [[scope,key],...], b [[size,start],...],
--    nr (true: not shown in the recent headlines)}
-- ARGV[7] the most entity-scope keys kept (least recently seen dropped first)
-- Returns {applied, duplicates, late, max_event ms or "", min_event ms or "", statuses}
-- where statuses[i] is 0 = duplicate, 1 = applied, 2 = applied but late.
local root = ARGV[1]
local retention = tonumber(ARGV[2])
local lateness = tonumber(ARGV[3])
local sample_size = tonumber(ARGV[4])
local recent_size = tonumber(ARGV[5])
local stories = cjson.decode(ARGV[6])
local entity_cap = tonumber(ARGV[7])
local touched_scopes = {}
local meta = root .. ':meta'
local max_event = tonumber(redis.call('HGET', meta, 'max_event'))
local min_event = tonumber(redis.call('HGET', meta, 'min_event'))
local statuses = {}
local applied, dups, late = 0, 0, 0

for i, s in ipairs(stories) do
  if redis.call('SET', root .. ':seen:' .. s.id, '1', 'NX', 'EX', retention) then
    local is_late = false
    if max_event and s.t < max_event - lateness then is_late = true end
    if (not max_event) or s.t > max_event then max_event = s.t end
    if (not min_event) or s.t < min_event then min_event = s.t end
    for _, sk in ipairs(s.k) do
      local scope, key = sk[1], sk[2]
      redis.call('ZADD', root .. ':keys:' .. scope, 'GT', s.t, key)
      touched_scopes[scope] = true
      for _, lv in ipairs(s.b) do
        local suffix = string.format('%d', lv[1]) .. ':' .. scope .. ':' .. key .. ':' .. string.format('%d', lv[2])
        local ttl = retention + lv[1]
        local h = root .. ':b:' .. suffix
        redis.call('HINCRBY', h, 'n', 1)
        redis.call('HINCRBY', h, s.c, 1)
        redis.call('HINCRBY', h, 'ss', s.ss)
        redis.call('HINCRBY', h, 'nv', s.nv)
        redis.call('HINCRBY', h, 'nvs', s.nvs)
        if s.c == 'neg' then redis.call('HINCRBY', h, 'nvn', s.nv) end
        if is_late then redis.call('HINCRBY', h, 'late', 1) end
        redis.call('EXPIRE', h, ttl)
        local z = root .. ':s:' .. suffix
        redis.call('ZADD', z, s.sc, s.j)
        redis.call('ZREMRANGEBYRANK', z, sample_size, -1)
        redis.call('EXPIRE', z, ttl)
      end
    end
    if not s.nr then redis.call('ZADD', root .. ':recent', s.t, s.r) end
    applied = applied + 1
    if is_late then
      late = late + 1
      statuses[i] = 2
    else
      statuses[i] = 1
    end
  else
    dups = dups + 1
    statuses[i] = 0
  end
end

if applied > 0 then
  redis.call('HSET', meta, 'max_event', string.format('%d', max_event), 'min_event', string.format('%d', min_event))
  redis.call('ZREMRANGEBYRANK', root .. ':recent', 0, -(recent_size + 1))
  -- bounded key lists: forget keys idle for longer than the retention (their buckets have expired too)
  local idle_before = max_event - retention * 1000
  for scope, _ in pairs(touched_scopes) do
    redis.call('ZREMRANGEBYSCORE', root .. ':keys:' .. scope, '-inf', '(' .. string.format('%d', idle_before))
  end
  if entity_cap and touched_scopes['entity'] and redis.call('ZCARD', root .. ':keys:entity') > entity_cap then
    redis.call('ZREMRANGEBYRANK', root .. ':keys:entity', 0, -(entity_cap + 1))
  end
end
local max_s, min_s = '', ''
if max_event then max_s = string.format('%d', max_event) end
if min_event then min_s = string.format('%d', min_event) end
return {applied, dups, late, max_s, min_s, statuses}

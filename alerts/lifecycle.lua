-- One alert state transition at one evaluation boundary, atomically (Alertmanager-like lifecycle):
--   inactive -> pending -> firing -> (resolved) inactive, with `for`, cooldown and repeat interval.
-- A boundary at or before the last one evaluated for this fingerprint is "stale": a second detector evaluating
-- the same data gets no action, so only one worker ever fires (or resolves) a given alert.
-- KEYS[1] state hash  KEYS[2] live set of the rule (pending/firing keys)  KEYS[3] firing index (zset)
-- KEYS[4] hand-off hash: every fire/repeat/resolve decided here and not yet handed on (field
--         "<fingerprint>@<boundary ms>", value "<action>|<starts ms>|<decided ms>"), written in the same atomic
--         step as the transition so a worker that dies before sending the alert cannot lose it
-- ARGV: 1 boundary ms, 2 condition 0/1, 3 for ms, 4 repeat ms (0 = never), 5 cooldown ms, 6 ttl s,
--       7 key, 8 fingerprint, 9 rule, 10 scope, 11 value, 12 wall-clock ms ("" = do not track hand-off)
-- Returns {action, starts_at ms or ""}; action: stale|none|pending|cleared|cooldown|fire|repeat|resolve
local st = KEYS[1]
local b = tonumber(ARGV[1])
local cond = ARGV[2] == '1'
local state = redis.call('HGET', st, 'state')
if not state then
  if not cond then return {'none', ''} end
  state = 'inactive'
end
local last = tonumber(redis.call('HGET', st, 'last_eval'))
if last and b <= last then return {'stale', ''} end
redis.call('HSET', st, 'last_eval', ARGV[1], 'rule', ARGV[9], 'scope', ARGV[10], 'key', ARGV[7], 'value', ARGV[11])
redis.call('EXPIRE', st, tonumber(ARGV[6]))

local function decided(action, starts)
  if ARGV[12] ~= '' then
    redis.call('HSET', KEYS[4], ARGV[8] .. '@' .. ARGV[1], action .. '|' .. starts .. '|' .. ARGV[12])
    redis.call('EXPIRE', KEYS[4], tonumber(ARGV[6]))
  end
  return {action, starts}
end

local function fire()
  redis.call('HSET', st, 'state', 'firing', 'starts_at', ARGV[1], 'last_notify', ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[7])
  redis.call('ZADD', KEYS[3], b, ARGV[8])
  return decided('fire', ARGV[1])
end

if cond then
  if state == 'inactive' then
    local resolved_at = tonumber(redis.call('HGET', st, 'resolved_at'))
    if resolved_at and b - resolved_at < tonumber(ARGV[5]) then return {'cooldown', ''} end
    if tonumber(ARGV[3]) <= 0 then return fire() end
    redis.call('HSET', st, 'state', 'pending', 'since', ARGV[1])
    redis.call('SADD', KEYS[2], ARGV[7])
    return {'pending', ''}
  elseif state == 'pending' then
    if b - tonumber(redis.call('HGET', st, 'since')) >= tonumber(ARGV[3]) then return fire() end
    return {'none', ''}
  else
    local repeat_ms = tonumber(ARGV[4])
    local starts = redis.call('HGET', st, 'starts_at')
    if repeat_ms > 0 and b - tonumber(redis.call('HGET', st, 'last_notify')) >= repeat_ms then
      redis.call('HSET', st, 'last_notify', ARGV[1])
      return decided('repeat', starts)
    end
    return {'none', starts}
  end
end

if state == 'pending' then
  redis.call('HSET', st, 'state', 'inactive')
  redis.call('SREM', KEYS[2], ARGV[7])
  return {'cleared', ''}
elseif state == 'firing' then
  local starts = redis.call('HGET', st, 'starts_at')
  redis.call('HSET', st, 'state', 'inactive', 'resolved_at', ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[7])
  redis.call('ZREM', KEYS[3], ARGV[8])
  return decided('resolve', starts)
end
return {'none', ''}

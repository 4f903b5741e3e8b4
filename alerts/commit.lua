-- Commit one rule x key's new lifecycle state, atomically and only if nobody else moved it meanwhile.
-- The detector computes the state machine in Python (alerts/lifecycle.py) from the state it read; this script
-- writes the result only if the hash's last_eval is still what it read (compare-and-set), so two detectors
-- evaluating the same data commit once and only the winner emits the notifications ("stale" for the other).
-- KEYS[1] state hash  KEYS[2] live set of the rule (pending/firing keys)  KEYS[3] firing index (zset)
-- KEYS[4] hand-off hash: every fire/repeat/resolve decided here and not yet handed on (field
--         "<fingerprint>@<boundary ms>", value "<action>|<starts ms>|<decided ms>"), written in the same atomic
--         step as the state so a worker that dies before sending the alert cannot lose it
-- ARGV: 1 expected last_eval ms ("" = no state yet), 2 ttl s, 3 key, 4 fingerprint, 5 rule, 6 scope, 7 value,
--       8 wall-clock ms ("" = do not track hand-off), 9 JSON object of the new state fields (strings, "" = unset),
--       10 JSON array of decisions [[action, starts ms, boundary ms], ...]
-- Returns "ok" or "stale".
local st = KEYS[1]
local current = redis.call('HGET', st, 'last_eval')
if (current or '') ~= ARGV[1] then return 'stale' end
local new = cjson.decode(ARGV[9])
for _, name in ipairs({'state', 'since', 'starts_at', 'last_notify', 'resolved_at', 'last_eval'}) do
  local value = new[name]
  if value == nil or value == '' then redis.call('HDEL', st, name) else redis.call('HSET', st, name, value) end
end
redis.call('HSET', st, 'rule', ARGV[5], 'scope', ARGV[6], 'key', ARGV[3], 'value', ARGV[7])
redis.call('EXPIRE', st, tonumber(ARGV[2]))
if new.state == 'pending' or new.state == 'firing' then
  redis.call('SADD', KEYS[2], ARGV[3])
else
  redis.call('SREM', KEYS[2], ARGV[3])
end
if new.state == 'firing' then
  redis.call('ZADD', KEYS[3], tonumber(new.starts_at), ARGV[4])
else
  redis.call('ZREM', KEYS[3], ARGV[4])
end
if ARGV[8] ~= '' then
  for _, d in ipairs(cjson.decode(ARGV[10])) do
    redis.call('HSET', KEYS[4], ARGV[4] .. '@' .. d[3], d[1] .. '|' .. d[2] .. '|' .. ARGV[8])
  end
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[2]))
end
return 'ok'

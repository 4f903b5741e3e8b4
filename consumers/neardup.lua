-- Assign a story to a near-duplicate cluster, atomically and idempotently by story id.
-- KEYS[1] = of:<story id> (the remembered assignment), KEYS[2..] = the story's LSH band keys.
-- ARGV[1] = story id, ARGV[2] = MinHash signature (8 hex chars per value), ARGV[3] = Jaccard threshold,
-- ARGV[4] = TTL in seconds, ARGV[5] = key prefix for cluster data (sig:<cluster>, n:<cluster>).
-- Returns {cluster id, repeats before this story}; novelty = 1 / (1 + repeats).
local assigned = redis.call('GET', KEYS[1])
if assigned then
  local sep = string.find(assigned, '|', 1, true)
  return {string.sub(assigned, 1, sep - 1), tonumber(string.sub(assigned, sep + 1))}
end
local sig = ARGV[2]
local values = #sig / 8
local prefix = ARGV[5]
local ttl = tonumber(ARGV[4])
local best, best_score = nil, -1
local checked = {}
for i = 2, #KEYS do
  local candidate = redis.call('GET', KEYS[i])
  if candidate and not checked[candidate] then
    checked[candidate] = true
    local other = redis.call('GET', prefix .. 'sig:' .. candidate)
    if other and #other == #sig then
      local same = 0
      for j = 0, values - 1 do
        if string.sub(sig, j * 8 + 1, j * 8 + 8) == string.sub(other, j * 8 + 1, j * 8 + 8) then
          same = same + 1
        end
      end
      local score = same / values
      if score > best_score then
        best, best_score = candidate, score
      end
    end
  end
end
local cluster, repeats
if best and best_score >= tonumber(ARGV[3]) then
  cluster = best
  repeats = redis.call('INCR', prefix .. 'n:' .. cluster) - 1
  redis.call('EXPIRE', prefix .. 'n:' .. cluster, ttl)
  redis.call('EXPIRE', prefix .. 'sig:' .. cluster, ttl)
else
  cluster = ARGV[1]
  repeats = 0
  redis.call('SET', prefix .. 'sig:' .. cluster, sig, 'EX', ttl)
  redis.call('SET', prefix .. 'n:' .. cluster, 1, 'EX', ttl)
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], cluster, 'EX', ttl)
end
redis.call('SET', KEYS[1], cluster .. '|' .. repeats, 'EX', ttl)
return {cluster, repeats}

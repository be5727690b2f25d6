--[[
  Commit the live state's head (which chunk versions are current, and the trainer's cursor),
  only for the attempt that holds the fence: a newer attempt's fence means the caller is a stale
  rank (cut off by a partition whose link came back); a missing fence means the Redis lost its
  data (restarted without persistence), so the chunks the head would name may be gone too.

  KEYS[1] head key  (string: JSON)
  KEYS[2] fence key (string: the attempt that raised it)

  ARGV[1] the committing attempt
  ARGV[2] the head's JSON

  Returns 1 committed, 0 refused (stale attempt), -1 refused (no fence: state lost)
]]
local fence = redis.call('GET', KEYS[2])
if not fence then
  return -1
end
if tonumber(fence) ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1

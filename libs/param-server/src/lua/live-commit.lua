--[[
  Commit the live state's head (which chunk versions are current, and the trainer's cursor),
  unless a newer attempt of the trial has raised the fence: a rank cut off by a partition whose
  link comes back must not move the new group's state.

  KEYS[1] head key  (string: JSON)
  KEYS[2] fence key (string: the newest attempt)

  ARGV[1] the committing attempt
  ARGV[2] the head's JSON

  Returns 1 committed, 0 refused (stale attempt)
]]
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < fence then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1

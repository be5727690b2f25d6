--[[
  Raise the live state's attempt fence: from now on only this attempt (or a newer one) may
  commit the trial's live head.

  KEYS[1] fence key (string: the newest attempt)

  ARGV[1] the caller's attempt (integer >= 1)

  Returns the newest attempt after the call (higher than ARGV[1]: the caller is stale itself)
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local mine = tonumber(ARGV[1])
if mine > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return mine
end
return current

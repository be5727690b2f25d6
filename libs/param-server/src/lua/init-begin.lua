--[[
  Claim the right to write a trial's initial values (first writer wins).

  KEYS[1] version key   (string; present once the trial is initialised)
  KEYS[2] init lock key (string with PX; holds the writer's token)

  ARGV[1] token of the caller (random, unique per initialize call)
  ARGV[2] lock TTL in milliseconds (how long a crashed writer blocks others)

  Returns
    1  claimed: the caller must write every chunk, then run init-commit
    0  already initialised: nothing to do
   -1  another writer holds the lock: wait for the version key (or the lock to expire)
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return 1
end
return -1

--[[
  Store one chunk's optimiser result for a step and mark the chunk done, atomically.

  The chunk's version (steps applied to it) must equal the step: then the new parameter and
  moments are written, the version becomes step + 1 and the step's done counter is bumped. When
  the counter reaches the number of chunks the trial version becomes step + 1 and an entry is
  added to the step-done stream, which wakes every puller. A chunk already past the step is a
  retry of work that landed: nothing is written (so an update is never applied twice).

  KEYS[1] param chunk key
  KEYS[2] m (first moment) chunk key
  KEYS[3] v (second moment) chunk key
  KEYS[4] chunk-version hash
  KEYS[5] done counter of the step
  KEYS[6] trial version key
  KEYS[7] step-done stream of the step

  ARGV[1] chunk index
  ARGV[2] step
  ARGV[3] number of chunks in the plan
  ARGV[4] new parameter bytes (float32 little-endian)
  ARGV[5] new m bytes
  ARGV[6] new v bytes
  ARGV[7] TTL in ms of the done counter and stream

  Returns {1, done} when written, {0, done} for a duplicate; errors PSNOCHUNK (trial not
  initialised) or PSVERSION (the chunk is behind the step: an earlier step never finished).
]]
local cur = redis.call('HGET', KEYS[4], ARGV[1])
if not cur then
  return redis.error_reply('PSNOCHUNK chunk has no version (trial not initialised?)')
end
cur = tonumber(cur)
local step = tonumber(ARGV[2])
if cur > step then
  return {0, tonumber(redis.call('GET', KEYS[5]) or '0')}
end
if cur < step then
  return redis.error_reply('PSVERSION chunk is at version ' .. cur .. ', cannot apply step ' .. step)
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[1], step + 1)
local done = redis.call('INCR', KEYS[5])
redis.call('PEXPIRE', KEYS[5], ARGV[7])
if done == tonumber(ARGV[3]) then
  redis.call('SET', KEYS[6], step + 1)
  redis.call('XADD', KEYS[7], '*', 'version', step + 1)
  redis.call('PEXPIRE', KEYS[7], ARGV[7])
end
return {1, done}

--[[
  Publish a trial's initial values once all chunks are written: record the plan, set every
  chunk's version and the trial version, release the lock. The version key appears last, so a
  reader that sees it sees every chunk.

  KEYS[1] version key
  KEYS[2] init lock key
  KEYS[3] chunk-version hash (chunk index -> version)
  KEYS[4] meta key (JSON of the plan's inputs)

  ARGV[1] token of the caller (must still hold the lock)
  ARGV[2] initial version (steps already applied; 0 for a fresh model)
  ARGV[3] number of chunks
  ARGV[4] meta JSON

  Returns 1, or the error PSLOCK if the lock expired or was taken over meanwhile.
]]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('PSLOCK initialisation lock lost (expired or taken over)')
end
redis.call('DEL', KEYS[3])
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[3], tostring(i), ARGV[2])
end
redis.call('SET', KEYS[4], ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1

-- Lead detail of random leads (ids 1..AIQ_BENCH_COUNT; every 20th is quarantined, so skipped).
local token = os.getenv("AIQ_BENCH_TOKEN")
local count = tonumber(os.getenv("AIQ_BENCH_COUNT") or "1000000")
wrk.headers["Authorization"] = "Bearer " .. token
math.randomseed(os.time())
request = function()
  local id = math.random(1, count)
  if id % 20 == 0 then id = id + 1 end
  return wrk.format("GET", string.format("/v1/leads/%016x", id))
end

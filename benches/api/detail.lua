-- Lead detail of random leads (ids 1..AIQ_BENCH_COUNT; every 20th is quarantined, so skipped).
-- The requests are formatted once per thread: formatting one per request in Lua made the load
-- generator, which shares the machine, cost more per request than the server's own routing.
local token = os.getenv("AIQ_BENCH_TOKEN")
local count = tonumber(os.getenv("AIQ_BENCH_COUNT") or "1000000")
local requests = {}
local next_request = 0
init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. token
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
  for i = 1, 65536 do
    local id = math.random(1, count)
    if id % 20 == 0 then id = id - 1 end
    requests[i] = wrk.format("GET", string.format("/v1/leads/%016x", id))
  end
end
request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

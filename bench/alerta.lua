-- wrk script for Alerta's POST /alert: a new alert per request (unique resource), like
-- bench/load.lua's v2 mode with unique dedup keys. BENCH_PREFIX makes resources unique per run.
local prefix = os.getenv("BENCH_PREFIX") or "a"
local counter = 0

function request()
  counter = counter + 1
  local body = string.format('{"resource":"%s-web-%d","event":"CpuHigh","environment":' ..
    '"Production","service":["Web"],"severity":"critical","text":"CPU high on web-%d",' ..
    '"attributes":{"load":"12.5","cores":"2"}}', prefix, counter, counter % 97)
  return wrk.format("POST", "/alert", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end

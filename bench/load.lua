-- wrk script for alert-gateway: unique dedup keys spread over many routing keys.
-- Environment: BENCH_KEYS (comma-separated routing keys), BENCH_MODE (v2 | pairs | v1 | raw),
-- BENCH_PREFIX (dedup key prefix, unique per run).
local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEYS") or "", "[^,]+") do keys[#keys + 1] = k end
local mode = os.getenv("BENCH_MODE") or "v2"
local prefix = os.getenv("BENCH_PREFIX") or "b"
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

local function v2(action, rk, dk)
  if action == "trigger" then
    return string.format('{"routing_key":"%s","event_action":"trigger","dedup_key":"%s",' ..
      '"payload":{"summary":"CPU high on web-%d","source":"web-%d.example.com",' ..
      '"severity":"critical","component":"cpu","group":"web","class":"load",' ..
      '"custom_details":{"load":"12.5","cores":2}}}', rk, dk, counter % 97, counter % 97)
  end
  return string.format('{"routing_key":"%s","event_action":"%s","dedup_key":"%s"}', rk, action, dk)
end

function request()
  counter = counter + 1
  local rk = keys[(counter % #keys) + 1]
  local dk = string.format("%s-%d-%d", prefix, tid or 0, counter)
  local headers = {["Content-Type"] = "application/json"}
  if mode == "v1" then
    local body = string.format('{"service_key":"%s","event_type":"trigger","incident_key":"%s",' ..
      '"description":"CPU high on web-%d","details":{"load":"12.5"}}', rk, dk, counter % 97)
    return wrk.format("POST", "/generic/2010-04-15/create_event.json", headers, body)
  elseif mode == "pairs" then
    -- odd: trigger a new key; even: resolve the key triggered 25 pairs earlier, so the
    -- resolve does not overtake its trigger on another connection.
    local n = math.floor((counter + 1) / 2)
    local action = "trigger"
    if counter % 2 == 0 then
      action = "resolve"
      n = n - 25
    end
    dk = string.format("%s-%d-%d", prefix, tid or 0, n)
    return wrk.format("POST", "/v2/enqueue", headers, v2(action, rk, dk))
  elseif mode == "storm" then
    -- A fixed number of triggers over a few dedup keys, then wrk is stopped.
    local total = tonumber(os.getenv("BENCH_STORM_EVENTS"))
    if counter > total then
      wrk.thread:stop()
    end
    dk = string.format("storm-%d", counter % tonumber(os.getenv("BENCH_STORM_KEYS")))
    return wrk.format("POST", "/v2/enqueue", headers, v2("trigger", rk, dk))
  elseif mode == "cloudwatch" then
    local body = os.getenv("BENCH_SNS_BODY")
    return wrk.format("POST", "/integration/" .. rk .. "/enqueue",
      {["Content-Type"] = "text/plain; charset=UTF-8"}, body)
  end
  return wrk.format("POST", "/v2/enqueue", headers, v2("trigger", rk, dk))
end

function done(summary, latency, requests)
  io.write(string.format('BENCH {"requests":%d,"p50":%.3f,"p90":%.3f,"p99":%.3f,' ..
    '"max":%.3f,"errors":%d,"non2xx":%d,"duration_us":%d}\n',
    summary.requests, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration))
end

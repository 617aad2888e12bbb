-- wrk script for bench/scripts/webseed-vs-nginx.sh: every request GETs one random, range-aligned byte range of one of
-- the files, as a web-seed client asks for pieces. Arguments after "--": RANGE_BYTES, then PATH SIZE pairs.
-- Requests are prepared once per thread (a table of 4096 is cycled), so the client spends its time on the sockets; there
-- is no response() hook, which would copy every body into Lua. At the end one line:
-- "WRK requests=.. bytes=.. duration_us=.. status_errors=.. errors=.. p50_ms=.. p99_ms=.." (bytes include headers;
-- status_errors counts answers of 400 and up, which a correct range server never sends here).

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local range = tonumber(args[1])
  local files = {}
  for i = 2, #args, 2 do
    table.insert(files, { path = args[i], size = tonumber(args[i + 1]) })
  end
  math.randomseed(os.time() * 1000 + id)
  prepared = {}
  for i = 1, 4096 do
    local f = files[math.random(#files)]
    local slots = math.max(1, math.floor(f.size / range))
    local first = (math.random(slots) - 1) * range
    local last = math.min(first + range, f.size) - 1
    prepared[i] = wrk.format("GET", f.path, { ["Range"] = "bytes=" .. first .. "-" .. last })
  end
  next_request = 0
end

function request()
  next_request = next_request % #prepared + 1
  return prepared[next_request]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%d bytes=%d duration_us=%d status_errors=%d errors=%d p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.bytes, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

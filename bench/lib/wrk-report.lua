-- wrk script for bench/run: with WRK_BODY_FILE set, every request is a POST of that file's JSON
-- (an evaluation trigger); otherwise wrk's plain GET. At the end it prints one JSON line that
-- bench/run reads: requests, errors, duration and latency percentiles in microseconds.
local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "r"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
end
wrk.headers["Content-Type"] = "application/json"
wrk.headers["DD-API-KEY"] = "bench-fake-api-key-0000"
wrk.headers["DD-APPLICATION-KEY"] = "bench-fake-app-key-0000"

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

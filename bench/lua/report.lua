-- Shared by every script: a distinct `tid` global in each thread (for keys
-- that must not collide across threads), and one summary line
-- "rps p50_ms p99_ms errors requests" after a run.
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.2f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, summary.requests))
end

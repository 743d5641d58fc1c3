-- whoami.lua: GET /sessions/whoami with session tokens, for wrk.
--
--   wrk -t2 -c32 -d20s --latency -s bench/wrk/whoami.lua http://127.0.0.1:4455/sessions/whoami
--
-- Tokens come from, in order:
--   FOYER_TOKEN   one session token (fys_…);
--   FOYER_USERS   a users file written by `go run ./bench setup` (JSON lines
--                 with a "token" field), default $TMPDIR/foyer-bench-users.jsonl,
--                 which is also the default of the bench tool's -users flag.
-- With several tokens each thread cycles through them; FOYER_TOKENS_MAX caps
-- how many are read. A missing token stops wrk: a run of 401s would measure
-- the wrong thing.
--
-- At the end it prints a summary in the bench tool's text format, after
-- wrk's own report; answers with a status of 400 or more count as errors.
-- With FOYER_WRK_JSON=<file> it also writes the summary as JSON in the bench
-- tool's shape (scenario "whoami-wrk") for `go run ./bench report`; wrk does
-- not tell scripts its connection count, so set FOYER_WRK_CONNECTIONS to
-- label it.

local function fail(msg)
  io.stderr:write("whoami.lua: " .. msg .. "\n")
  os.exit(2)
end

local function load_tokens()
  local tok = os.getenv("FOYER_TOKEN")
  if tok and tok ~= "" then
    return { tok }
  end
  local path = os.getenv("FOYER_USERS")
  if not path or path == "" then
    path = (os.getenv("TMPDIR") or "/tmp") .. "/foyer-bench-users.jsonl"
  end
  local f = io.open(path, "r")
  if not f then
    fail("no token: set FOYER_TOKEN, or FOYER_USERS to a users file written by `go run ./bench setup` (tried " .. path .. ")")
  end
  local limit = tonumber(os.getenv("FOYER_TOKENS_MAX") or "") or math.huge
  local tokens = {}
  for line in f:lines() do
    local t = line:match('"token"%s*:%s*"([^"]+)"')
    if t then
      tokens[#tokens + 1] = t
      if #tokens >= limit then break end
    end
  end
  f:close()
  if #tokens == 0 then
    fail("no token in " .. path)
  end
  return tokens
end

local tokens = load_tokens()

if #tokens == 1 then
  -- One token: wrk builds the request once (its fastest path).
  wrk.headers["Authorization"] = "Bearer " .. tokens[1]
else
  -- Several: each thread pre-formats one request per token and cycles.
  local threads = 0
  function setup(thread)
    thread:set("offset", threads)
    threads = threads + 1
  end

  local reqs, i
  function init(args)
    reqs = {}
    for k, t in ipairs(tokens) do
      wrk.headers["Authorization"] = "Bearer " .. t
      reqs[k] = wrk.format()
    end
    i = ((offset or 0) * 7919) % #reqs
  end

  function request()
    i = i % #reqs + 1
    return reqs[i]
  end
end

local function ms(us)
  return string.format("%.2fms", us / 1000)
end

local function write_json(path, summary, latency, errors)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local by = {}
  for _, k in ipairs({ "status", "connect", "read", "write", "timeout" }) do
    if e[k] > 0 then
      by[#by + 1] = string.format('"%s": %d', k == "status" and "status>=400" or k, e[k])
    end
  end
  local f = io.open(path, "w")
  if not f then
    io.stderr:write("whoami.lua: cannot write " .. path .. "\n")
    return
  end
  f:write(string.format([[{
  "scenario": "whoami-wrk",
  "url": "%s://%s:%s%s",
  "concurrency": %d,
  "elapsed_s": %.3f,
  "total": %.0f,
  "ok": %.0f,
  "errors": %.0f,
  "ops_per_sec": %.2f,
  "requests": %.0f,
  "requests_per_sec": %.2f,
  "latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f, "mean": %.3f},
  "errors_by_status": {%s},
  "note": "wrk, %d token(s)"
}
]], wrk.scheme, wrk.host, wrk.port or "", wrk.path, tonumber(os.getenv("FOYER_WRK_CONNECTIONS") or "") or 0,
    secs, summary.requests, summary.requests - e.status, errors, (summary.requests - e.status) / secs,
    summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000, table.concat(by, ", "), #tokens))
  f:close()
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  local errors = socket + e.status
  local out = os.getenv("FOYER_WRK_JSON")
  if out and out ~= "" then
    write_json(out, summary, latency, errors)
  end
  io.write(string.format("whoami-wrk  url=%s://%s:%s%s  elapsed=%.2fs  tokens=%d\n",
    wrk.scheme, wrk.host, wrk.port or "", wrk.path, secs, #tokens))
  io.write(string.format("  throughput  %.2f req/s\n", summary.requests / secs))
  io.write(string.format("  operations  total=%.0f  ok=%.0f  errors=%.0f\n",
    summary.requests, summary.requests - e.status, errors))
  io.write(string.format("  latency     p50=%s  p90=%s  p99=%s  max=%s  mean=%s\n",
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency.max), ms(latency.mean)))
  if errors == 0 then
    io.write("  errors      none\n")
  else
    io.write(string.format("  errors      status>=400: %d, connect: %d, read: %d, write: %d, timeout: %d\n",
      e.status, e.connect, e.read, e.write, e.timeout))
  end
end

-- common.lua: what Foyer's wrk scripts (whoami.lua, client_credentials.lua,
-- introspect.lua) share. Not a wrk script itself: they load it with
--
--   local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
--
-- and call common.run{...}, which sets up the request(s), checks answers and
-- prints the summary in done(); common.load_tokens reads the tokens a run
-- cycles through.
--
-- Client authentication for the OAuth scripts (common.basic_auth) is HTTP
-- Basic (client_secret_basic) with the id and secret of FOYER_CLIENT_ID and
-- FOYER_CLIENT_SECRET, each form-encoded first as RFC 6749 §2.3.1 asks.

local M = {}

local function fail(script, msg)
  io.stderr:write(script .. ": " .. msg .. "\n")
  os.exit(2)
end
M.fail = fail

local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local function ch(k) return b64:sub(k + 1, k + 1) end
    out[#out + 1] = ch(math.floor(n / 262144) % 64) .. ch(math.floor(n / 4096) % 64) ..
      (b and ch(math.floor(n / 64) % 64) or "=") .. (c and ch(n % 64) or "=")
  end
  return table.concat(out)
end

-- form_escape encodes s for an application/x-www-form-urlencoded value.
function M.form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- basic_auth returns the Authorization header value for the client of
-- FOYER_CLIENT_ID and FOYER_CLIENT_SECRET; it stops wrk when one is missing.
function M.basic_auth(script)
  local id, secret = os.getenv("FOYER_CLIENT_ID"), os.getenv("FOYER_CLIENT_SECRET")
  if not id or id == "" or not secret or secret == "" then
    fail(script, "set FOYER_CLIENT_ID and FOYER_CLIENT_SECRET to a client created with `foyer clients create` (see bench/README.md)")
  end
  return "Basic " .. base64(M.form_escape(id) .. ":" .. M.form_escape(secret)), id
end

-- form_headers returns the headers of a form POST to an OAuth endpoint
-- with the Authorization value auth.
function M.form_headers(auth)
  return {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
    ["Authorization"] = auth,
  }
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function ms(us)
  return string.format("%.2fms", us / 1000)
end

-- load_tokens returns the tokens to send: the one in the environment
-- variable opts.one, or else those in the JSON-lines file named by
-- opts.file (default $TMPDIR/<opts.default>), each line's opts.field (with
-- opts.bare, a line holding only a token counts too), at most
-- FOYER_TOKENS_MAX of them. It stops wrk when there is none: a run of
-- refusals would measure the wrong thing. opts.writer names the bench
-- scenario that writes the file, for the message.
function M.load_tokens(opts)
  local tok = os.getenv(opts.one)
  if tok and tok ~= "" then
    return { tok }
  end
  local path = os.getenv(opts.file)
  if not path or path == "" then
    path = (os.getenv("TMPDIR") or "/tmp") .. "/" .. opts.default
  end
  local f = io.open(path, "r")
  if not f then
    fail(opts.script, string.format("no token: set %s, or %s to a file written by `go run ./bench %s` (tried %s)",
      opts.one, opts.file, opts.writer, path))
  end
  local limit = tonumber(os.getenv("FOYER_TOKENS_MAX") or "") or math.huge
  local pattern = '"' .. opts.field .. '"%s*:%s*"([^"]+)"'
  local tokens = {}
  for line in f:lines() do
    local t = line:match(pattern)
    if not t and opts.bare and not line:find("[{%s]") and line ~= "" then
      t = line
    end
    if t then
      tokens[#tokens + 1] = t
      if #tokens >= limit then break end
    end
  end
  f:close()
  if #tokens == 0 then
    fail(opts.script, "no token in " .. path)
  end
  return tokens
end

-- run sets wrk up to send one of opts.requests per request (a single one
-- is sent as a static request, wrk's fastest path; several are cycled
-- through, each thread from its own offset) and installs setup, init,
-- request, response and done. opts:
--   script    the script's file name, for messages
--   scenario  the name in the summary and the JSON ("…-wrk")
--   method    "GET" (default) or "POST"
--   headers   headers of every request
--   requests  the requests, each a table with optional headers and body
--   check     function(body) returning nil when a 200 answer is right, or
--             a short reason ("inactive") when it is not; fault names
--             such answers in the summary
--   note      a note for the JSON form
-- With check, an answer counts as an error when its status is not 200 or
-- check finds fault with it. Without, no response() is installed (wrk then
-- reads no bodies, for the lightest requests) and an answer counts as an
-- error when its status is 400 or more. Socket errors always count.
function M.run(opts)
  wrk.method = opts.method or "GET"
  for k, v in pairs(opts.headers or {}) do
    wrk.headers[k] = v
  end
  local function apply(r)
    for k, v in pairs(r.headers or {}) do
      wrk.headers[k] = v
    end
    if r.body then
      wrk.body = r.body
    end
  end

  local threads = {}
  function setup(thread)
    thread:set("offset", #threads)
    threads[#threads + 1] = thread
  end

  local reqs, i
  if #opts.requests == 1 then
    apply(opts.requests[1])
    function init(args)
      not200, faulty, sample = 0, 0, nil
    end
  else
    function init(args)
      not200, faulty, sample = 0, 0, nil
      reqs = {}
      for k, r in ipairs(opts.requests) do
        apply(r)
        reqs[k] = wrk.format()
      end
      i = ((offset or 0) * 7919) % #reqs
    end
    function request()
      i = i % #reqs + 1
      return reqs[i]
    end
  end

  local check = opts.check
  if check then
    function response(status, headers, body)
      if status ~= 200 then
        not200 = not200 + 1
        if not sample then sample = (tostring(status) .. " " .. (body or ""):sub(1, 160)):gsub("%s+$", "") end
        return
      end
      local why = check(body or "")
      if why then
        faulty = faulty + 1
        if not sample then sample = ("200 " .. why .. ": " .. (body or ""):sub(1, 160)):gsub("%s+$", "") end
      end
    end
  end

  function done(summary, latency, requests)
    local e = summary.errors
    local bad, wrong, first = 0, 0, nil
    local by
    if check then
      for _, t in ipairs(threads) do
        bad = bad + (t:get("not200") or 0)
        wrong = wrong + (t:get("faulty") or 0)
        first = first or t:get("sample")
      end
      by = { { "status!=200", bad }, { opts.fault or "wrong-answer", wrong } }
    else
      bad = e.status
      by = { { "status>=400", bad } }
    end
    for _, k in ipairs({ "connect", "read", "write", "timeout" }) do
      by[#by + 1] = { k, e[k] }
    end
    local secs = summary.duration / 1e6
    local socket = e.connect + e.read + e.write + e.timeout
    local errors = socket + bad + wrong
    local ok = summary.requests - bad - wrong
    local url = string.format("%s://%s:%s%s", wrk.scheme, wrk.host, wrk.port or "", wrk.path)

    local out = os.getenv("FOYER_WRK_JSON")
    if out and out ~= "" then
      local parts = {}
      for _, kv in ipairs(by) do
        if kv[2] > 0 then parts[#parts + 1] = string.format("%s: %d", json_string(kv[1]), kv[2]) end
      end
      local samples = ""
      if first then samples = string.format('  "error_samples": {"first": %s},\n', json_string(first)) end
      local f = io.open(out, "w")
      if not f then
        io.stderr:write(opts.script .. ": cannot write " .. out .. "\n")
      else
        f:write(string.format([[{
  "scenario": "%s",
  "url": %s,
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
%s  "note": %s
}
]], opts.scenario, json_string(url), tonumber(os.getenv("FOYER_WRK_CONNECTIONS") or "") or 0,
          secs, summary.requests, ok, errors, ok / secs, summary.requests, summary.requests / secs,
          latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
          latency.max / 1000, latency.mean / 1000, table.concat(parts, ", "), samples, json_string(opts.note)))
        f:close()
      end
    end

    io.write(string.format("%s  url=%s  elapsed=%.2fs  %s\n", opts.scenario, url, secs, opts.note))
    io.write(string.format("  throughput  %.2f ok/s  %.2f req/s\n", ok / secs, summary.requests / secs))
    io.write(string.format("  operations  total=%.0f  ok=%.0f  errors=%.0f\n", summary.requests, ok, errors))
    io.write(string.format("  latency     p50=%s  p90=%s  p99=%s  max=%s  mean=%s\n",
      ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
      ms(latency.max), ms(latency.mean)))
    if errors == 0 then
      io.write("  errors      none\n")
    else
      local parts = {}
      for _, kv in ipairs(by) do parts[#parts + 1] = string.format("%s: %d", kv[1], kv[2]) end
      io.write("  errors      " .. table.concat(parts, ", ") .. "\n")
      if first then io.write("    first: " .. first .. "\n") end
    end
  end
end

return M

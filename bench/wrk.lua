-- wrk script for the bench (bench/run.ts drives it).
--   BENCH_TOKEN_FILE  one token per line, sent round-robin as "Authorization: Bearer <token>"
--                     (unset: no Authorization header, the public-route scenario)
--   BENCH_SCHEME      DPoP: each line is "<token> <proof>", sent as "Authorization: DPoP <token>"
--                     and "DPoP: <proof>" (RFC 9449); unset: Bearer
--   BENCH_METHOD      GET (unset) or POST
--   BENCH_BODY        a JSON request body, sent with "Content-Type: application/json"
--                     (wrk.format adds its Content-Length)
--   BENCH_TOKEN_ONCE  1: the file's tokens are this load's own (bench/token-pool.ts): sent in
--                     order from the first, and every send past the last (a token sent a
--                     second time) counted as "repeated"
-- Prints one line "BENCH_JSON {...}" with the totals, latency percentiles, the count of
-- non-2xx answers (counted in response(), summed over wrk's threads), the requests sent
-- (answered or not), the tokens sent twice, and wrk's own CPU time (user + system, in clock
-- ticks of /proc/self/stat) from the end of the last thread's init() (reading the token file
-- is not counted) to done(), and over the same span the whole machine's busy time (all cores,
-- every process and the kernel: the first line of /proc/stat, all but idle and I/O wait) and
-- its softirq part.
local threads = {}

-- utime + stime of this process (all its threads), in clock ticks; -1 where /proc is not readable
local function cpuTicks()
  local file = io.open("/proc/self/stat", "r")
  if file == nil then return -1 end
  local stat = file:read("*a")
  file:close()
  -- the fields after the command name, which may hold spaces: from the last ')'
  local close = stat:match(".*()%)")
  if close == nil then return -1 end
  local fields = {}
  for field in stat:sub(close + 2):gmatch("%S+") do fields[#fields + 1] = field end
  local utime, stime = tonumber(fields[12]), tonumber(fields[13])
  if utime == nil or stime == nil then return -1 end
  return utime + stime
end

-- the whole machine's busy and softirq clock ticks, all cores (/proc/stat); -1, -1 where unreadable
local function machineTicks()
  local file = io.open("/proc/stat", "r")
  if file == nil then return -1, -1 end
  local line = file:read("*l")
  file:close()
  if line == nil then return -1, -1 end
  -- "cpu" user nice system idle iowait irq softirq steal ... (guest time is already in user)
  local fields = {}
  for field in line:gmatch("%d+") do fields[#fields + 1] = tonumber(field) end
  if line:sub(1, 4) ~= "cpu " or #fields < 8 then return -1, -1 end
  local busy = fields[1] + fields[2] + fields[3] + fields[6] + fields[7] + fields[8]
  return busy, fields[7]
end

function setup(thread)
  table.insert(threads, thread)
end

local prepared = {}
local count = 0
local index = 0
local once = false
non2xx = 0
sent = 0
repeated = 0
startTicks = -1
startMachine = -1
startSoftirq = -1

function init(args)
  local file = os.getenv("BENCH_TOKEN_FILE")
  local method = os.getenv("BENCH_METHOD")
  if method == nil or method == "" then method = "GET" end
  local body = os.getenv("BENCH_BODY")
  if body == "" then body = nil end
  local dpop = os.getenv("BENCH_SCHEME") == "DPoP"
  local function headers(token)
    local h = {}
    if body ~= nil then h["Content-Type"] = "application/json" end
    if token ~= nil and dpop then
      local space = string.find(token, " ", 1, true)
      h["Authorization"] = "DPoP " .. string.sub(token, 1, space - 1)
      h["DPoP"] = string.sub(token, space + 1)
    elseif token ~= nil then
      h["Authorization"] = "Bearer " .. token
    end
    return h
  end
  if file == nil or file == "" then
    prepared[1] = wrk.format(method, wrk.path, headers(nil), body)
    count = 1
  else
    for line in io.lines(file) do
      if line ~= "" then
        count = count + 1
        prepared[count] = wrk.format(method, wrk.path, headers(line), body)
      end
    end
  end
  once = os.getenv("BENCH_TOKEN_ONCE") == "1"
  if once then
    index = 0
  else
    -- Each thread starts at a random offset so that threads do not send the same token in step.
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
    index = math.random(0, count - 1)
  end
  -- each thread's init() runs before any thread starts sending: the last one's reading is the start
  startTicks = cpuTicks()
  startMachine, startSoftirq = machineTicks()
end

function request()
  sent = sent + 1
  index = index + 1
  if index > count then index = 1 end
  if once and sent > count then repeated = sent - count end
  return prepared[index]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local sentAll = 0
  local repeatedAll = 0
  local start = -1
  local machineStart, softirqStart = -1, -1
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    sentAll = sentAll + (thread:get("sent") or 0)
    repeatedAll = repeatedAll + (thread:get("repeated") or 0)
    local ticks = thread:get("startTicks") or -1
    if ticks > start then start = ticks end
    local machine = thread:get("startMachine") or -1
    if machine > machineStart then
      machineStart = machine
      softirqStart = thread:get("startSoftirq") or -1
    end
  end
  local now = cpuTicks()
  local cpuTicksUsed = -1
  if start >= 0 and now >= start then cpuTicksUsed = now - start end
  local machineNow, softirqNow = machineTicks()
  local machineUsed, softirqUsed = -1, -1
  if machineStart >= 0 and machineNow >= machineStart and softirqStart >= 0 and softirqNow >= softirqStart then
    machineUsed, softirqUsed = machineNow - machineStart, softirqNow - softirqStart
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"non2xx":%d,"sent":%d,"repeated":%d,"cpu_ticks":%d,"machine_ticks":%d,"softirq_ticks":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
    bad, sentAll, repeatedAll, cpuTicksUsed, machineUsed, softirqUsed, e.connect, e.read, e.write, e.status, e.timeout))
end

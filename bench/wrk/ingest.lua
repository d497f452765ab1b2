-- wrk script for `POST /api/v1/interacciones` against a running `alpes serve`, so that the
-- server is measured without the in-process client of `alpes bench ingest`.
--
--   BATCH=100 wrk -t1 -c8 -d20s -s bench/wrk/ingest.lua http://127.0.0.1:8080
--
-- BATCH (default 1) is how many interactions each request carries: 1 sends one object
-- (expects 201), more sends a JSON array (expects 200 with "failed":0). Every journey and
-- partner id is new, spread over 20 campaigns, as in `alpes bench ingest`. At the end it
-- prints interactions/s and how many requests were not a full success.

local batch = tonumber(os.getenv("BATCH") or "1")
if batch == nil or batch < 1 or batch > 1000 or batch % 1 ~= 0 then
  error("BATCH must be a whole number from 1 to 1000, not " .. tostring(os.getenv("BATCH")))
end

local threads = {}

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

local function hex16()
  return string.format("%04x", math.random(0, 0xffff))
end

-- A random version 4 UUID.
local function uuid()
  return hex16() .. hex16() .. "-" .. hex16() .. "-"
    .. string.format("4%03x", math.random(0, 0xfff)) .. "-"
    .. string.format("%04x", 0x8000 + math.random(0, 0x3fff)) .. "-"
    .. hex16() .. hex16() .. hex16()
end

local campaigns = {}
local sent = 0
failed = 0

function init(args)
  math.randomseed(os.time() * 1000 + number)
  for index = 1, 20 do
    campaigns[index] = uuid()
  end
end

local function interaction()
  sent = sent + 1
  local tipo = (sent % 5 == 0) and "Vista" or "Click"
  return string.format(
    '{"tipo":"%s","campana_id":"%s","partner_id":"%s","journey_id":"%s",'
      .. '"occurred_at":"%s","contexto":{"utm":{"source":"bench"}}}',
    tipo, campaigns[sent % 20 + 1], uuid(), uuid(), os.date("!%Y-%m-%dT%H:%M:%SZ"))
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  local body
  if batch == 1 then
    body = interaction()
  else
    local items = {}
    for index = 1, batch do
      items[index] = interaction()
    end
    body = "[" .. table.concat(items, ",") .. "]"
  end
  return wrk.format("POST", "/api/v1/interacciones", headers, body)
end

function response(status, headers, body)
  if batch == 1 then
    if status ~= 201 then
      failed = failed + 1
    end
  elseif status ~= 200 or not string.find(body, '"failed":0', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(threads) do
    failures = failures + thread:get("failed")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "ingest %.0f interactions/s (%d requests of %d in %.2f s; %d not a full success, "
      .. "%d socket errors); request latency p50 %.2f ms, p99 %.2f ms\n",
    summary.requests * batch / seconds, summary.requests, batch, seconds, failures,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end

-- wrk script for bench/webhook_ingest.py: one real-shaped push notification per request,
-- each with its own event id (run nonce, thread number, counter), so none is deduplicated.
-- Usage: wrk -s bench/webhook_ingest.lua URL -- NONCE [MODE]   (NONCE: an integer below 2^31)
-- MODE "big" sends pulls of the tags of one repository, big/app (tags t0 .. t19999), which
-- bench/webhook_ingest.py fills with 20,000 tags: the events task processes them meanwhile.

wrk.method = "POST"
wrk.path = "/v2/webhooks/events"
wrk.headers["Authorization"] = "Bearer s3cret"
wrk.headers["Content-Type"] = "application/vnd.docker.distribution.events.v1+json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local counter, nonce = 0, 0
local stamp
local mode = "push"

function init(args)
  nonce = tonumber(args[1]) or 0
  mode = args[2] or "push"
  stamp = os.date("!%Y-%m-%dT%H:%M:%S") .. ".209636693Z"
  math.randomseed(nonce + tid)
end

local template = [[{"events":[{"id":"%s","timestamp":"%s","action":"push",]]
  .. [["target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":411,]]
  .. [["digest":"%s","length":411,"repository":"%s","url":"http://127.0.0.1:5000/v2/%s/]]
  .. [[manifests/%s","tag":"%s"},"request":{"id":"%s","addr":"127.0.0.1:40000",]]
  .. [["host":"127.0.0.1:5000","method":"PUT","useragent":"skopeo/1.9.3"},"actor":{},]]
  .. [["source":{"addr":"vm:5000","instanceID":"6c1ac4fa-5b2e-4b5c-a7d1-2f1cbbbd2a37"}}]}]]

local pull = [[{"events":[{"id":"%s","timestamp":"%s","action":"pull",]]
  .. [["target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":411,]]
  .. [["digest":"%s","length":411,"repository":"big/app","url":"http://127.0.0.1:5000/v2/]]
  .. [[big/app/manifests/%s","tag":"%s"},"request":{"id":"%s","addr":"127.0.0.1:40000",]]
  .. [["host":"127.0.0.1:5000","method":"GET","useragent":"containerd/1.7.2"},"actor":{},]]
  .. [["source":{"addr":"vm:5000","instanceID":"6c1ac4fa-5b2e-4b5c-a7d1-2f1cbbbd2a37"}}]}]]

function request()
  counter = counter + 1
  if mode == "big" then
    local id = string.format("%08x-%04x-4000-8000-%012x", nonce, tid, counter)
    local request_id = string.format("%08x-%04x-4000-9000-%012x", nonce, tid, counter)
    local n = math.random(0, 19999)
    local digest = string.format("sha256:%064x", n)
    local body = string.format(pull, id, stamp, digest, digest, "t" .. n, request_id)
    return wrk.format(nil, nil, nil, body)
  end
  local id = string.format("%08x-%04x-4000-8000-%012x", nonce, tid, counter)
  local request_id = string.format("%08x-%04x-4000-9000-%012x", nonce, tid, counter)
  local digest = string.format("sha256:%08x%04x%052x", nonce, tid, counter)
  local repository = string.format("bench/app-%d", counter % 50)
  local tag = string.format("1.%d", counter)
  local body = string.format(template, id, stamp, digest, repository, repository, digest, tag,
    request_id)
  return wrk.format(nil, nil, nil, body)
end

-- One machine-readable line for the Python side (latencies in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d, '
      .. '"mean": %.1f, "max": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end

#include "handlers/cluster/cluster_queue.hpp"

#include "server/platform.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace evald {
namespace {

constexpr const char* group = "workers";

// Each script runs atomically in Redis. KEYS and ARGV are documented above each.

// Idempotency keys, shared by both submit scripts: P idempotency:{key} holds the id of
// the job the key launched, for as long as that job is kept (its TTL is the job's).
// A launch with a key held for a job that exists replays it, or is refused when its
// params differ; a key whose job is gone is free again.
constexpr const char* idempotency_lua = R"(
local function replay(keyed, job_prefix, params)
  if keyed == '' then return nil end
  local prev = redis.call('GET', keyed)
  if not prev then return nil end
  local job = job_prefix .. prev .. '}'
  if redis.call('EXISTS', job) == 0 then return nil end
  if redis.call('HGET', job, 'params') ~= params then return {'reused'} end
  return {'replayed', prev, redis.call('HGET', job, 'status')}
end
local function remember(keyed, job, id)
  if keyed == '' then return end
  redis.call('SET', keyed, id)
  redis.call('HSET', job, 'keyed', keyed)
end
-- A tenant's cap on jobs queued or running (max 0: none). P live:{tenant} holds the ids
-- of its jobs launched under a cap; ended or forgotten ones leave it when it looks full,
-- so no end of a job needs to know about it.
local function at_cap(live, job_prefix, max)
  if max <= 0 then return false end
  if redis.call('SCARD', live) < max then return false end
  for _, j in ipairs(redis.call('SMEMBERS', live)) do
    local s = redis.call('HGET', job_prefix .. j .. '}', 'status')
    if s ~= 'queued' and s ~= 'running' then redis.call('SREM', live, j) end
  end
  return redis.call('SCARD', live) >= max
end
local function count_live(live, max, id)
  if max > 0 then redis.call('SADD', live, id) end
end
)";

// KEYS: job, stream, index. ARGV: id, params, submitted_ms, idempotency key ("" for
// none), tenant, the tenant's live set, its max_jobs.
constexpr const char* submit_lua = R"(
local job_prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1] - 1)
local replayed = replay(ARGV[4], job_prefix, ARGV[2])
if replayed then return replayed end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if at_cap(ARGV[6], job_prefix, tonumber(ARGV[7])) then return {'busy'} end
count_live(ARGV[6], tonumber(ARGV[7]), ARGV[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'queued', 'params', ARGV[2],
           'submitted', ARGV[3], 'epoch', 0, 'progress', 0, 'tenant', ARGV[5])
remember(ARGV[4], KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return {'new'})";

// A final write shared by the scripts below (defined in each: scripts cannot share).
constexpr const char* final_write_lua = R"(
local function final_write(job, finishes, status, result, now, ttl, mark)
  redis.call('HSET', job, 'status', status, 'result', result, 'finished', now)
  if status == 'done' then redis.call('HSET', job, 'progress', 1) end
  redis.call('RPUSH', finishes, mark)
  redis.call('PEXPIRE', job, ttl)
  redis.call('PEXPIRE', finishes, ttl)
  local keyed = redis.call('HGET', job, 'keyed')
  if keyed and redis.call('GET', keyed) == redis.call('HGET', job, 'id') then
    redis.call('PEXPIRE', keyed, ttl)
  end
  -- A split job's own keys (named from the job's: one Redis, not a Redis Cluster).
  for _, s in ipairs({':parts', ':results', ':epochs', ':nodes', ':workers'}) do
    redis.call('PEXPIRE', job .. s, ttl)
  end
end
local function expire_now(job, finishes, now, ttl)
  final_write(job, finishes, 'expired',
    '{"error":{"status":504,"code":"deadline_exceeded","message":"the job ran past its ' ..
    'deadline (timeout_ms from its first part\'s start, capped by limits.max_eval_time) ' ..
    'before all its parts ran"}}', now, ttl, 'deadline')
end
local function drop_entry(stream, entry)
  redis.call('XACK', stream, 'workers', entry)
  redis.call('XDEL', stream, entry)
end
)";

// KEYS: job, stream, index, parts. ARGV: id, params, submitted_ms, kind, head,
// timeout_ms, idempotency key ("" for none), job key prefix, tenant, the tenant's
// live set, its max_jobs, then every part's body. The deadline is set when the first
// part starts: timeout_ms from then.
constexpr const char* submit_split_lua = R"(
local replayed = replay(ARGV[7], ARGV[8], ARGV[2])
if replayed then return replayed end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if at_cap(ARGV[10], ARGV[8], tonumber(ARGV[11])) then return {'busy'} end
count_live(ARGV[10], tonumber(ARGV[11]), ARGV[1])
local count = #ARGV - 11
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'queued', 'params', ARGV[2],
           'submitted', ARGV[3], 'epoch', 0, 'progress', 0, 'split', ARGV[4], 'head', ARGV[5],
           'timeout', ARGV[6], 'parts', count, 'limit', count, 'done', 0, 'tenant', ARGV[9])
remember(ARGV[7], KEYS[1], ARGV[1])
for k = 0, count - 1 do redis.call('HSET', KEYS[4], k, ARGV[12 + k]) end
for k = 0, count - 1 do redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'part', k) end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return {'new'})";

// KEYS: job, stream, finishes, parts, results, epochs, nodes, workers.
// ARGV: entry, node, part, max_deliveries, now_ms, ttl_ms, worker label.
constexpr const char* part_start_lua = R"(
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then
  drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0}
end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then
  final_write(KEYS[1], KEYS[3], 'cancelled',
    '{"error":{"status":409,"code":"cancelled","message":"the job was cancelled"}}',
    ARGV[5], ARGV[6], 'cancel')
  drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0}
end
local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline') or '0')
if deadline > 0 and tonumber(ARGV[5]) >= deadline then
  expire_now(KEYS[1], KEYS[3], ARGV[5], ARGV[6])
  drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0}
end
if tonumber(ARGV[3]) >= tonumber(redis.call('HGET', KEYS[1], 'limit')) or
   redis.call('HEXISTS', KEYS[5], ARGV[3]) == 1 then
  drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0}
end
local pending = redis.call('XPENDING', KEYS[2], 'workers', ARGV[1], ARGV[1], 1)
local deliveries = 1
if pending[1] then deliveries = pending[1][4] end
if deliveries > tonumber(ARGV[4]) then
  final_write(KEYS[1], KEYS[3], 'failed',
    '{"error":{"status":500,"code":"job_abandoned","message":"part ' .. ARGV[3] ..
    ' of the job was delivered ' .. deliveries .. ' times (cluster.max_deliveries is ' ..
    ARGV[4] .. '): every node running it stopped before it ended"}}', ARGV[5], ARGV[6], 'dead')
  drop_entry(KEYS[2], ARGV[1]) return {'dead', 0, deliveries}
end
local timeout = tonumber(redis.call('HGET', KEYS[1], 'timeout') or '0')
if deadline == 0 and timeout > 0 then
  -- The first part to start: the job's time runs from now (queueing and outages
  -- before it do not count).
  deadline = tonumber(ARGV[5]) + timeout
  redis.call('HSET', KEYS[1], 'deadline', deadline)
end
local epoch = redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[2])
redis.call('HSETNX', KEYS[1], 'started', ARGV[5])
redis.call('SADD', KEYS[7], ARGV[2])
redis.call('SADD', KEYS[8], ARGV[7])
return {'run', epoch, deliveries, redis.call('HGET', KEYS[4], ARGV[3]),
        redis.call('HGET', KEYS[1], 'split'), tostring(deadline),
        redis.call('HGET', KEYS[1], 'tenant') or ''})";

// KEYS: job, finishes. ARGV: now_ms, ttl_ms. A split job past its deadline ends
// expired now, whoever asks, instead of when its next part starts or ends.
constexpr const char* expire_lua = R"(
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then return 'no' end
local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline') or '0')
if deadline == 0 or tonumber(ARGV[1]) < deadline then return 'no' end
expire_now(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 'expired')";

// KEYS: job, stream, epochs. ARGV: entry, node, part, epoch.
constexpr const char* part_beat_lua = R"(
if tonumber(ARGV[3]) >= tonumber(redis.call('HGET', KEYS[1], 'limit') or '0') then
  return 'superseded'
end
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or
   redis.call('HGET', KEYS[3], ARGV[3]) ~= ARGV[4] then return 'stale' end
redis.call('XCLAIM', KEYS[2], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancel' end
return 'ok')";

// KEYS: job, stream, finishes, results, nodes, workers. ARGV: entry, part, status,
// result, hit, now_ms, ttl_ms. The part that completes the job (every part below the
// limit has a result) assembles the job's result from the parts'.
constexpr const char* part_done_lua = R"(
drop_entry(KEYS[2], ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' and status ~= 'queued' then return 'late' end
if ARGV[3] == 'superseded' then return 'late' end
if ARGV[3] ~= 'done' then
  final_write(KEYS[1], KEYS[3], ARGV[3], ARGV[4], ARGV[6], ARGV[7], 'part ' .. ARGV[2])
  return 'written'
end
if redis.call('HSETNX', KEYS[4], ARGV[2], ARGV[4]) == 0 then return 'late' end
local part = tonumber(ARGV[2])
local parts = tonumber(redis.call('HGET', KEYS[1], 'parts'))
local limit = tonumber(redis.call('HGET', KEYS[1], 'limit'))
local done = redis.call('HINCRBY', KEYS[1], 'done', 1)
if ARGV[5] == '1' and part + 1 < limit then
  limit = part + 1
  redis.call('HSET', KEYS[1], 'limit', limit)
end
redis.call('HSET', KEYS[1], 'progress', string.format('%.4f', math.min(done / parts, 1)))
if done < limit then return 'recorded' end
local all = {}
for k = 0, limit - 1 do
  local v = redis.call('HGET', KEYS[4], k)
  if not v then return 'recorded' end
  all[k + 1] = v
end
local names = redis.call('SMEMBERS', KEYS[5])
table.sort(names)
for i, n in ipairs(names) do names[i] = cjson.encode(n) end
local nodes = '"nodes":[' .. table.concat(names, ',') .. ']'
local workers = redis.call('SCARD', KEYS[6])
local result
if redis.call('HGET', KEYS[1], 'split') == 'trial' then
  -- Every recorded part counts its work; the factor is the smallest found.
  local factor, checked = 0, 3
  for _, v in ipairs(redis.call('HVALS', KEYS[4])) do
    local f, c = string.match(v, '^(%d+),(%d+)$')
    f = tonumber(f)
    checked = checked + tonumber(c)
    if f > 0 and (factor == 0 or f < factor) then factor = f end
  end
  local f = 'null'
  if factor > 0 then f = '"' .. string.format('%.0f', factor) .. '"' end
  local prime = 'true'
  if factor > 0 then prime = 'false' end
  result = redis.call('HGET', KEYS[1], 'head') .. ',"prime":' .. prime ..
    ',"method":"trial","factor":' .. f .. ',"divisors_checked":"' ..
    string.format('%.0f', checked) .. '","workers":' .. workers .. ',"chunks":' .. parts ..
    ',"chunks_run":' .. redis.call('HLEN', KEYS[4]) .. ',' .. nodes .. '}'
else
  local ok, failed, cpu, lists = 0, 0, 0, {}
  for i, v in ipairs(all) do
    local a, b, c, rest = string.match(v, '^(%d+),(%d+),([%d.]+)|(.*)$')
    ok = ok + tonumber(a)
    failed = failed + tonumber(b)
    cpu = cpu + tonumber(c)
    lists[i] = rest
  end
  local started = tonumber(redis.call('HGET', KEYS[1], 'started') or ARGV[6])
  result = '{"results":[' .. table.concat(lists, ',') .. '],"summary":{"items":' ..
    string.format('%.0f', ok + failed) .. ',"ok":' .. string.format('%.0f', ok) ..
    ',"failed":' .. string.format('%.0f', failed) .. ',"chunks":' .. parts ..
    ',"workers":' .. workers .. ',' .. nodes .. ',"wall_ms":' ..
    string.format('%.0f', tonumber(ARGV[6]) - started) .. ',"cpu_ms":' ..
    string.format('%.3f', cpu) .. '}}'
end
final_write(KEYS[1], KEYS[3], 'done', result, ARGV[6], ARGV[7], 'parts')
return 'written')";

// KEYS: job, stream, finishes. ARGV: entry, node, max_deliveries, now_ms, ttl_ms.
constexpr const char* start_lua = R"(
local status = redis.call('HGET', KEYS[1], 'status')
if not status then drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0} end
if status ~= 'queued' and status ~= 'running' then
  drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0}
end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then
  final_write(KEYS[1], KEYS[3], 'cancelled',
    '{"error":{"status":409,"code":"cancelled","message":"the job was cancelled"}}',
    ARGV[4], ARGV[5], 'cancel')
  drop_entry(KEYS[2], ARGV[1]) return {'skip', 0, 0}
end
local pending = redis.call('XPENDING', KEYS[2], 'workers', ARGV[1], ARGV[1], 1)
local deliveries = 1
if pending[1] then deliveries = pending[1][4] end
redis.call('HSET', KEYS[1], 'deliveries', deliveries)
if deliveries > tonumber(ARGV[3]) then
  local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
  final_write(KEYS[1], KEYS[3], 'failed',
    '{"error":{"status":500,"code":"job_abandoned","message":"the job was delivered ' ..
    deliveries .. ' times (cluster.max_deliveries is ' .. ARGV[3] ..
    '): every node running it stopped before it ended"}}', ARGV[4], ARGV[5], 'dead')
  drop_entry(KEYS[2], ARGV[1]) return {'dead', epoch, deliveries}
end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[2], 'started', ARGV[4])
return {'run', epoch, deliveries, redis.call('HGET', KEYS[1], 'params'),
        redis.call('HGET', KEYS[1], 'tenant') or ''})";

// KEYS: job, stream. ARGV: entry, node, epoch, progress.
constexpr const char* beat_lua = R"(
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[3] or
   redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 'stale' end
redis.call('HSET', KEYS[1], 'progress', ARGV[4])
redis.call('XCLAIM', KEYS[2], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancel' end
return 'ok')";

// KEYS: job, stream, finishes. ARGV: entry, epoch, status, result, now_ms, ttl_ms.
constexpr const char* finish_lua = R"(
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] or
   redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 'stale' end
final_write(KEYS[1], KEYS[3], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[2])
drop_entry(KEYS[2], ARGV[1])
return 'written')";

// KEYS: job, stream, epochs. ARGV: entry, node, epoch (-1: never started), idle_ms, part.
constexpr const char* release_lua = R"(
local part = tonumber(ARGV[5])
if ARGV[3] ~= '-1' then
  if part < 0 then
    if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[3] or
       redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 'stale' end
    redis.call('HSET', KEYS[1], 'status', 'queued')
  elseif redis.call('HGET', KEYS[3], ARGV[5]) ~= ARGV[3] then
    return 'stale'
  end
end
local pending = redis.call('XPENDING', KEYS[2], 'workers', ARGV[1], ARGV[1], 1)
if not pending[1] then return 'gone' end
redis.call('XCLAIM', KEYS[2], 'workers', ARGV[2], 0, ARGV[1], 'IDLE', ARGV[4],
           'RETRYCOUNT', math.max(pending[1][4] - 1, 0), 'JUSTID')
return 'released')";

// KEYS: job, finishes. ARGV: now_ms, ttl_ms.
constexpr const char* cancel_lua = R"(
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'queued' then
  final_write(KEYS[1], KEYS[2], 'cancelled',
    '{"error":{"status":409,"code":"cancelled","message":"the job was cancelled"}}',
    ARGV[1], ARGV[2], 'cancel')
  return 'cancelled'
end
if status == 'running' then redis.call('HSET', KEYS[1], 'cancel', 1) return 'flagged' end
return 'finished')";

// KEYS: index. ARGV: prefix, limit. Returns flat [id, status, progress, submitted,
// started, finished, owner, epoch] per job, newest first; expired ids leave the index.
constexpr const char* newest_lua = R"(
local out = {}
local wanted = ARGV[3]
local scan = tonumber(ARGV[2]) * 2
if wanted ~= '' then scan = math.max(scan, 2000) end
local ids = redis.call('ZREVRANGE', KEYS[1], 0, scan)
local n = 0
for _, id in ipairs(ids) do
  if n >= tonumber(ARGV[2]) then break end
  local key = ARGV[1] .. 'job:{' .. id .. '}'
  local f = redis.call('HMGET', key, 'status', 'progress', 'submitted', 'started', 'finished',
                       'owner', 'epoch', 'tenant')
  if not f[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif wanted == '' or f[8] == wanted then
    n = n + 1
    table.insert(out, id)
    for i = 1, 8 do table.insert(out, f[i] or '') end
  end
end
return out)";

// KEYS: index, nodes. ARGV: prefix, limit, now_ms, live_ms. Returns {statuses..., '',
// nodes...}; nodes silent for an hour are forgotten on the way.
constexpr const char* survey_lua = R"(
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local st = redis.call('HGET', ARGV[1] .. 'job:{' .. id .. '}', 'status')
  if st then table.insert(out, st) end
end
table.insert(out, '')
local since = tonumber(ARGV[3]) - tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', since - 3600000)
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], since, '+inf')) do
  table.insert(out, n)
end
return out)";

// KEYS: scripts, version. ARGV: name ("<ns>/<name>"), expected ("\0absent" or the
// source judged), new source ("\0delete" to delete), max_named, the namespace's
// max count and max bytes (0 = none). A namespace's usage is counted from the names
// when it has a cap (writes are rare; max_named bounds the walk; HSTRLEN reads no
// source).
constexpr const char* write_script_lua = R"(
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '\0absent' then
  if current then return 'conflict' end
elseif current ~= ARGV[2] then
  return 'conflict'
end
if ARGV[3] == '\0delete' then
  if not current then return 'missing' end
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('INCR', KEYS[2])
  return 'deleted'
end
if not current and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'full' end
local max_count, max_bytes = tonumber(ARGV[5]), tonumber(ARGV[6])
if max_count > 0 or max_bytes > 0 then
  local ns = string.match(ARGV[1], '^[^/]*/')
  local count, bytes = 0, 0
  for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
    if k ~= ARGV[1] and string.sub(k, 1, #ns) == ns then
      count = count + 1
      bytes = bytes + redis.call('HSTRLEN', KEYS[1], k)
    end
  end
  if max_count > 0 and not current and count >= max_count then return 'over_count' end
  if max_bytes > 0 and bytes + #ARGV[3] > max_bytes then return 'over_bytes' end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('INCR', KEYS[2])
if current then return 'replaced' end
return 'created')";

// KEYS: scripts, version. Returns {version, name, source, name, source, ...}.
constexpr const char* all_scripts_lua = R"(
local out = {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('GET', KEYS[3]) or ''}
local all = redis.call('HGETALL', KEYS[1])
for _, v in ipairs(all) do table.insert(out, v) end
return out)";

// 128 random bits as hex: a data set's generation.
std::string random_generation() {
  unsigned char bytes[16];
  platform::fill_random(bytes, sizeof bytes);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : bytes) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

std::int64_t to_int(const std::string& s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<std::int64_t> optional_int(const std::string& s) {
  if (s.empty()) {
    return std::nullopt;
  }
  return to_int(s);
}

const std::string& text_of(const redis_reply& r) {
  static const std::string empty;
  return r.type == redis_reply::kind::string || r.type == redis_reply::kind::status ? r.str : empty;
}

void throw_if_error(const redis_reply& r) {
  if (!r.is_error()) {
    return;
  }
  if (auto unavailable = unavailable_from_reply(r.str)) {
    throw *unavailable;
  }
  throw std::runtime_error("Redis refused a cluster command: " + r.str);
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

}  // namespace

cluster_queue::cluster_queue(redis_connection& redis, settings s)
    : redis_(redis), settings_(std::move(s)) {}

std::string cluster_queue::job_key(const std::string& id) const {
  return settings_.prefix + "job:{" + id + "}";
}

net::awaitable<redis_reply> cluster_queue::script(const std::string& body,
                                                  std::vector<std::string> keys,
                                                  std::vector<std::string> args) {
  std::vector<std::string> argv{"EVAL", body, std::to_string(keys.size())};
  argv.insert(argv.end(), std::make_move_iterator(keys.begin()),
              std::make_move_iterator(keys.end()));
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  auto reply = co_await redis_.exec(std::move(argv));
  throw_if_error(reply);
  co_return reply;
}

net::awaitable<std::string> cluster_queue::generation() {
  const auto r = co_await redis_.exec(redis_args("GET", settings_.prefix + "generation"));
  throw_if_error(r);
  co_return r.is_nil() ? std::string() : r.str;
}

net::awaitable<cluster_queue::script_version> cluster_queue::scripts_version() {
  const auto r = co_await redis_.exec(
      redis_args("MGET", settings_.prefix + "generation", settings_.prefix + "scripts:version"));
  throw_if_error(r);
  script_version v;
  if (r.elements.size() == 2) {
    v.generation = r.elements[0].str;
    v.counter = r.elements[1].is_nil() ? 0 : to_int(r.elements[1].str);
  }
  co_return v;
}

net::awaitable<std::pair<cluster_queue::script_version, std::map<std::string, std::string>>>
cluster_queue::all_scripts() {
  const auto r =
      co_await script(all_scripts_lua,
                      redis_args(settings_.prefix + "scripts", settings_.prefix + "scripts:version",
                                 settings_.prefix + "generation"),
                      std::vector<std::string>{});
  std::pair<script_version, std::map<std::string, std::string>> out;
  if (r.elements.size() >= 2) {
    out.first.counter = r.elements[0].integer;
    out.first.generation = r.elements[1].str;
  }
  for (std::size_t i = 2; i + 1 < r.elements.size(); i += 2) {
    out.second.emplace(r.elements[i].str, r.elements[i + 1].str);
  }
  co_return out;
}

net::awaitable<cluster_queue::script_write> cluster_queue::write_script(
    const std::string& name, const std::optional<std::string>& expected,
    const std::optional<std::string>& source, std::uint32_t max_named, std::uint64_t max_count,
    std::uint64_t max_bytes) {
  const std::string absent("\0absent", 7);
  const std::string remove("\0delete", 7);
  // Arguments built before the co_await (GCC 12 and conditional operators in one).
  auto keys = redis_args(settings_.prefix + "scripts", settings_.prefix + "scripts:version");
  auto args =
      redis_args(name, expected.value_or(absent), source.value_or(remove),
                 std::to_string(max_named), std::to_string(max_count), std::to_string(max_bytes));
  const auto r = co_await script(write_script_lua, std::move(keys), std::move(args));
  const auto& t = r.str;
  co_return t == "created" ? script_write::created
  : t == "replaced"        ? script_write::replaced
  : t == "deleted"         ? script_write::deleted
  : t == "full"            ? script_write::full
  : t == "missing"         ? script_write::missing
  : t == "over_count"      ? script_write::over_count
  : t == "over_bytes"      ? script_write::over_bytes
                           : script_write::conflict;
}

net::awaitable<void> cluster_queue::announce(std::int64_t now_ms) {
  const auto r = co_await redis_.exec(
      redis_args("ZADD", settings_.prefix + "nodes", std::to_string(now_ms), settings_.node_id));
  throw_if_error(r);
}

net::awaitable<cluster_queue::overview> cluster_queue::survey(std::size_t limit,
                                                              std::int64_t now_ms,
                                                              std::chrono::milliseconds live) {
  auto keys = redis_args(settings_.prefix + "index", settings_.prefix + "nodes");
  auto args = redis_args(settings_.prefix, std::to_string(limit), std::to_string(now_ms), ms(live));
  const auto r = co_await script(survey_lua, std::move(keys), std::move(args));
  overview out;
  bool nodes = false;
  for (const auto& e : r.elements) {
    if (!nodes && e.str.empty()) {
      nodes = true;
    } else if (nodes) {
      out.nodes.push_back(e.str);
    } else {
      ++out.by_status[e.str];
    }
  }
  std::sort(out.nodes.begin(), out.nodes.end());
  co_return out;
}

net::awaitable<void> cluster_queue::ping() {
  const auto r = co_await redis_.exec(redis_args("EXISTS", settings_.prefix + "generation"));
  if (r.is_error()) {
    throw unavailable_from_reply(r.str).value_or(
        redis_unavailable("Redis answered with " + r.str.substr(0, 120)));
  }
  if (r.integer == 0) {
    throw redis_unavailable(
        "Redis has lost evald's queue (restarted empty or flushed); it is being recreated",
        redis_problem::lost_data);
  }
}

net::awaitable<std::string> cluster_queue::prepare() {
  // A generation marks this data set: a Redis that lost its data has none (or a new
  // one), and every node notices at its next look.
  auto r = co_await redis_.exec(
      redis_args("SET", settings_.prefix + "generation", random_generation(), "NX"));
  throw_if_error(r);
  r = co_await redis_.exec(
      redis_args("XGROUP", "CREATE", settings_.prefix + "jobs", group, "0", "MKSTREAM"));
  if (r.is_error() && r.str.find("BUSYGROUP") == std::string::npos) {
    throw_if_error(r);
  }
  r = co_await redis_.exec(redis_args("GET", settings_.prefix + "generation"));
  throw_if_error(r);
  co_return r.str;
}

std::string cluster_queue::keyed_key(const std::string& idempotency_key,
                                     const std::string& tenant) const {
  // Per tenant: another tenant's key neither replays nor reveals a job.
  return idempotency_key.empty()
             ? std::string()
             : settings_.prefix + "idempotency:" + std::to_string(tenant.size()) + ":" + tenant +
                   ":" + idempotency_key;
}

std::string cluster_queue::live_key(const std::string& tenant) const {
  return settings_.prefix + "live:" + tenant;  // tenant names are [a-z0-9_-]
}

cluster_queue::submit_result cluster_queue::submitted(const redis_reply& r) {
  submit_result out;
  const std::string& kind = r.elements.at(0).str;
  if (kind == "new") {
    out.what = submit_result::kind::queued;
  } else if (kind == "replayed") {
    out.what = submit_result::kind::replayed;
    out.id = text_of(r.elements.at(1));
    out.status = text_of(r.elements.at(2));
  } else if (kind == "reused") {
    out.what = submit_result::kind::reused;
  } else if (kind == "busy") {
    out.what = submit_result::kind::at_cap;
  }
  return out;
}

net::awaitable<cluster_queue::submit_result> cluster_queue::submit(
    const std::string& id, const std::string& params, std::int64_t now_ms,
    const std::string& idempotency_key, const std::string& tenant, std::uint32_t max_active) {
  const auto r = co_await script(
      std::string(idempotency_lua) + submit_lua,
      redis_args(job_key(id), settings_.prefix + "jobs", settings_.prefix + "index"),
      redis_args(id, params, std::to_string(now_ms), keyed_key(idempotency_key, tenant), tenant,
                 live_key(tenant), std::to_string(max_active)));
  co_return submitted(r);
}

net::awaitable<cluster_queue::submit_result> cluster_queue::submit_split(
    const std::string& id, const std::string& params, std::int64_t now_ms, const std::string& kind,
    const std::string& head, std::int64_t timeout_ms, const std::vector<std::string>& parts,
    const std::string& idempotency_key, const std::string& tenant, std::uint32_t max_active) {
  auto args = redis_args(id, params, std::to_string(now_ms), kind, head, std::to_string(timeout_ms),
                         keyed_key(idempotency_key, tenant), settings_.prefix + "job:{", tenant,
                         live_key(tenant), std::to_string(max_active));
  args.insert(args.end(), parts.begin(), parts.end());
  const auto r = co_await script(std::string(idempotency_lua) + submit_split_lua,
                                 redis_args(job_key(id), settings_.prefix + "jobs",
                                            settings_.prefix + "index", job_key(id) + ":parts"),
                                 std::move(args));
  co_return submitted(r);
}

net::awaitable<bool> cluster_queue::expire_if_late(const std::string& id, std::int64_t now_ms) {
  const auto r = co_await script(std::string(final_write_lua) + expire_lua,
                                 redis_args(job_key(id), job_key(id) + ":finishes"),
                                 redis_args(std::to_string(now_ms), ms(settings_.job_ttl)));
  co_return r.str == "expired";
}

net::awaitable<std::optional<cluster_queue::delivery>> cluster_queue::fetch(
    redis_connection& blocking, const settings& s, std::chrono::milliseconds block) {
  const auto r =
      co_await blocking.exec(redis_args("XREADGROUP", "GROUP", group, s.node_id, "COUNT", "1",
                                        "BLOCK", ms(block), "STREAMS", s.prefix + "jobs", ">"));
  throw_if_error(r);
  // [[stream, [[entry, [field, value, ...]]]]]
  if (r.type != redis_reply::kind::array || r.elements.empty()) {
    co_return std::nullopt;
  }
  const auto& entries = r.elements[0].elements.at(1).elements;
  if (entries.empty()) {
    co_return std::nullopt;
  }
  const auto& e = entries[0];
  delivery d;
  d.entry = e.elements.at(0).str;
  const auto& fields = e.elements.at(1).elements;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str == "id") {
      d.id = fields[i + 1].str;
    } else if (fields[i].str == "part") {
      d.part = to_int(fields[i + 1].str);
    }
  }
  co_return d;
}

net::awaitable<std::vector<cluster_queue::delivery>> cluster_queue::reclaim(
    std::chrono::milliseconds lease, int count) {
  // Not JUSTID: each claim must count as a delivery, for max_deliveries.
  const auto r = co_await redis_.exec(redis_args("XAUTOCLAIM", settings_.prefix + "jobs", group,
                                                 settings_.node_id, ms(lease), "0-0", "COUNT",
                                                 std::to_string(count)));
  throw_if_error(r);
  std::vector<delivery> out;
  if (r.type != redis_reply::kind::array || r.elements.size() < 2) {
    co_return out;
  }
  for (const auto& e : r.elements[1].elements) {
    if (e.type != redis_reply::kind::array || e.elements.size() < 2) {
      continue;  // an entry deleted meanwhile
    }
    delivery d;
    d.entry = e.elements[0].str;
    const auto& fields = e.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "id") {
        d.id = fields[i + 1].str;
      } else if (fields[i].str == "part") {
        d.part = to_int(fields[i + 1].str);
      }
    }
    out.push_back(std::move(d));
  }
  co_return out;
}

net::awaitable<cluster_queue::start_result> cluster_queue::start(const delivery& d,
                                                                 std::int64_t now_ms,
                                                                 const std::string& worker) {
  if (d.part >= 0) {
    const std::string job = job_key(d.id);
    auto keys = redis_args(job, settings_.prefix + "jobs", job + ":finishes", job + ":parts",
                           job + ":results", job + ":epochs", job + ":nodes", job + ":workers");
    auto args = redis_args(d.entry, settings_.node_id, std::to_string(d.part),
                           std::to_string(settings_.max_deliveries), std::to_string(now_ms),
                           ms(settings_.job_ttl), settings_.node_id + "#" + worker);
    const auto r = co_await script(std::string(final_write_lua) + part_start_lua, std::move(keys),
                                   std::move(args));
    start_result out;
    const auto& kind = r.elements.at(0).str;
    out.epoch = r.elements.at(1).integer;
    out.deliveries = r.elements.at(2).integer;
    if (kind == "run") {
      out.what = start_result::kind::run;
      out.params = text_of(r.elements.at(3));
      out.split = text_of(r.elements.at(4));
      out.deadline_ms = to_int(text_of(r.elements.at(5)));
      out.tenant = r.elements.size() > 6 ? text_of(r.elements.at(6)) : std::string();
    } else if (kind == "dead") {
      out.what = start_result::kind::dead;
    }
    co_return out;
  }
  const auto r = co_await script(
      std::string(final_write_lua) + start_lua,
      redis_args(job_key(d.id), settings_.prefix + "jobs", job_key(d.id) + ":finishes"),
      redis_args(d.entry, settings_.node_id, std::to_string(settings_.max_deliveries),
                 std::to_string(now_ms), ms(settings_.job_ttl)));
  start_result out;
  const auto& kind = r.elements.at(0).str;
  out.epoch = r.elements.at(1).integer;
  out.deliveries = r.elements.at(2).integer;
  if (kind == "run") {
    out.what = start_result::kind::run;
    out.params = text_of(r.elements.at(3));
    out.tenant = r.elements.size() > 4 ? text_of(r.elements.at(4)) : std::string();
  } else if (kind == "dead") {
    out.what = start_result::kind::dead;
  }
  co_return out;
}

net::awaitable<cluster_queue::beat_result> cluster_queue::beat(const delivery& d,
                                                               std::int64_t epoch,
                                                               double progress) {
  if (d.part >= 0) {
    const std::string job = job_key(d.id);
    auto keys = redis_args(job, settings_.prefix + "jobs", job + ":epochs");
    auto args =
        redis_args(d.entry, settings_.node_id, std::to_string(d.part), std::to_string(epoch));
    const auto r = co_await script(part_beat_lua, std::move(keys), std::move(args));
    co_return r.str == "ok" ? beat_result::ok
    : r.str == "cancel"     ? beat_result::cancel
    : r.str == "superseded" ? beat_result::superseded
                            : beat_result::stale;
  }
  const auto r = co_await script(
      beat_lua, redis_args(job_key(d.id), settings_.prefix + "jobs"),
      redis_args(d.entry, settings_.node_id, std::to_string(epoch), std::to_string(progress)));
  co_return r.str == "ok" ? beat_result::ok
                          : (r.str == "cancel" ? beat_result::cancel : beat_result::stale);
}

net::awaitable<cluster_queue::finish_result> cluster_queue::finish(const delivery& d,
                                                                   std::int64_t epoch,
                                                                   const std::string& status,
                                                                   const std::string& result,
                                                                   std::int64_t now_ms) {
  const auto r = co_await script(
      std::string(final_write_lua) + finish_lua,
      redis_args(job_key(d.id), settings_.prefix + "jobs", job_key(d.id) + ":finishes"),
      redis_args(d.entry, std::to_string(epoch), status, result, std::to_string(now_ms),
                 ms(settings_.job_ttl)));
  co_return r.str == "written" ? finish_result::written : finish_result::stale;
}

net::awaitable<cluster_queue::part_result> cluster_queue::finish_part(const delivery& d,
                                                                      const std::string& status,
                                                                      const std::string& result,
                                                                      bool hit,
                                                                      std::int64_t now_ms) {
  const std::string job = job_key(d.id);
  auto keys = redis_args(job, settings_.prefix + "jobs", job + ":finishes", job + ":results",
                         job + ":nodes", job + ":workers");
  auto args = redis_args(d.entry, std::to_string(d.part), status, result, hit ? "1" : "0",
                         std::to_string(now_ms), ms(settings_.job_ttl));
  const auto r = co_await script(std::string(final_write_lua) + part_done_lua, std::move(keys),
                                 std::move(args));
  co_return r.str == "recorded" ? part_result::recorded
  : r.str == "written"          ? part_result::written
                                : part_result::late;
}

net::awaitable<bool> cluster_queue::release(const delivery& d, std::int64_t epoch,
                                            std::chrono::milliseconds idle) {
  const std::string job = job_key(d.id);
  auto keys = redis_args(job, settings_.prefix + "jobs", job + ":epochs");
  auto args = redis_args(d.entry, settings_.node_id, std::to_string(epoch), ms(idle),
                         std::to_string(d.part));
  const auto r = co_await script(release_lua, std::move(keys), std::move(args));
  co_return r.str == "released";
}

net::awaitable<cluster_queue::cancel_result> cluster_queue::cancel(const std::string& id,
                                                                   std::int64_t now_ms) {
  const auto r = co_await script(std::string(final_write_lua) + cancel_lua,
                                 redis_args(job_key(id), job_key(id) + ":finishes"),
                                 redis_args(std::to_string(now_ms), ms(settings_.job_ttl)));
  if (r.str == "cancelled") {
    co_return cancel_result::cancelled;
  }
  if (r.str == "flagged") {
    co_return cancel_result::flagged;
  }
  co_return r.str == "missing" ? cancel_result::missing : cancel_result::finished;
}

net::awaitable<void> cluster_queue::remove(const std::string& id) {
  const std::string job = job_key(id);
  throw_if_error(co_await redis_.exec(redis_args("DEL", job, job + ":finishes", job + ":parts",
                                                 job + ":results", job + ":epochs", job + ":nodes",
                                                 job + ":workers")));
  throw_if_error(co_await redis_.exec(redis_args("ZREM", settings_.prefix + "index", id)));
}

net::awaitable<std::optional<cluster_job>> cluster_queue::get(const std::string& id) {
  const auto r = co_await redis_.exec(redis_args("HGETALL", job_key(id)));
  throw_if_error(r);
  if (r.elements.empty()) {
    co_return std::nullopt;
  }
  cluster_job j;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    const auto& k = r.elements[i].str;
    const auto& v = r.elements[i + 1].str;
    if (k == "id") {
      j.id = v;
    } else if (k == "status") {
      j.status = v;
    } else if (k == "progress") {
      j.progress = std::strtod(v.c_str(), nullptr);
    } else if (k == "submitted") {
      j.submitted_ms = to_int(v);
    } else if (k == "started") {
      j.started_ms = optional_int(v);
    } else if (k == "finished") {
      j.finished_ms = optional_int(v);
    } else if (k == "result") {
      j.result = v;
    } else if (k == "owner") {
      j.owner = v;
    } else if (k == "epoch") {
      j.epoch = to_int(v);
    } else if (k == "parts") {
      j.parts = to_int(v);
    } else if (k == "done") {
      j.parts_done = to_int(v);
    } else if (k == "deadline") {
      j.deadline_ms = to_int(v);
    } else if (k == "tenant") {
      j.tenant = v;
    }
  }
  if (j.parts > 0) {
    const auto nodes = co_await redis_.exec(redis_args("SMEMBERS", job_key(id) + ":nodes"));
    throw_if_error(nodes);
    for (const auto& n : nodes.elements) {
      j.nodes.push_back(n.str);
    }
    std::sort(j.nodes.begin(), j.nodes.end());
  }
  co_return j;
}

net::awaitable<std::vector<cluster_job>> cluster_queue::newest(std::size_t limit,
                                                               const std::string& tenant) {
  const auto r = co_await script(newest_lua, redis_args(settings_.prefix + "index"),
                                 redis_args(settings_.prefix, std::to_string(limit), tenant));
  std::vector<cluster_job> out;
  for (std::size_t i = 0; i + 8 < r.elements.size(); i += 9) {
    cluster_job j;
    j.id = r.elements[i].str;
    j.status = r.elements[i + 1].str;
    j.progress = std::strtod(r.elements[i + 2].str.c_str(), nullptr);
    j.submitted_ms = to_int(r.elements[i + 3].str);
    j.started_ms = optional_int(r.elements[i + 4].str);
    j.finished_ms = optional_int(r.elements[i + 5].str);
    j.owner = r.elements[i + 6].str;
    j.epoch = to_int(r.elements[i + 7].str);
    j.tenant = r.elements[i + 8].str;
    out.push_back(std::move(j));
  }
  co_return out;
}

}  // namespace evald

#include "handlers/cluster_queue.hpp"

#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace evald {
namespace {

constexpr const char* group = "workers";

// Each script runs atomically in Redis. KEYS and ARGV are documented above each.

// KEYS: job, stream, index. ARGV: id, params, submitted_ms.
constexpr const char* submit_lua = R"(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'queued', 'params', ARGV[2],
           'submitted', ARGV[3], 'epoch', 0, 'progress', 0)
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1)";

// A final write shared by the scripts below (defined in each: scripts cannot share).
constexpr const char* final_write_lua = R"(
local function final_write(job, finishes, status, result, now, ttl, mark)
  redis.call('HSET', job, 'status', status, 'result', result, 'finished', now)
  if status == 'done' then redis.call('HSET', job, 'progress', 1) end
  redis.call('RPUSH', finishes, mark)
  redis.call('PEXPIRE', job, ttl)
  redis.call('PEXPIRE', finishes, ttl)
end
local function drop_entry(stream, entry)
  redis.call('XACK', stream, 'workers', entry)
  redis.call('XDEL', stream, entry)
end
)";

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
return {'run', epoch, deliveries, redis.call('HGET', KEYS[1], 'params')})";

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
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) * 2)
local n = 0
for _, id in ipairs(ids) do
  if n >= tonumber(ARGV[2]) then break end
  local key = ARGV[1] .. 'job:{' .. id .. '}'
  local f = redis.call('HMGET', key, 'status', 'progress', 'submitted', 'started', 'finished',
                       'owner', 'epoch')
  if not f[1] then
    redis.call('ZREM', KEYS[1], id)
  else
    n = n + 1
    table.insert(out, id)
    for i = 1, 7 do table.insert(out, f[i] or '') end
  end
end
return out)";

// KEYS: scripts, version. ARGV: name, expected ("\0absent" or the source judged),
// new source ("\0delete" to delete), max_named.
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
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('INCR', KEYS[2])
if current then return 'replaced' end
return 'created')";

// KEYS: scripts, version. Returns {version, name, source, name, source, ...}.
constexpr const char* all_scripts_lua = R"(
local out = {tonumber(redis.call('GET', KEYS[2]) or '0')}
local all = redis.call('HGETALL', KEYS[1])
for _, v in ipairs(all) do table.insert(out, v) end
return out)";

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
  if (r.is_error()) {
    throw std::runtime_error("Redis refused a cluster command: " + r.str);
  }
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

net::awaitable<std::int64_t> cluster_queue::scripts_version() {
  const auto r = co_await redis_.exec(redis_args("GET", settings_.prefix + "scripts:version"));
  throw_if_error(r);
  co_return r.is_nil() ? 0 : to_int(r.str);
}

net::awaitable<std::pair<std::int64_t, std::map<std::string, std::string>>>
cluster_queue::all_scripts() {
  const auto r = co_await script(
      all_scripts_lua,
      redis_args(settings_.prefix + "scripts", settings_.prefix + "scripts:version"),
      std::vector<std::string>{});
  std::pair<std::int64_t, std::map<std::string, std::string>> out;
  out.first = r.elements.empty() ? 0 : r.elements[0].integer;
  for (std::size_t i = 1; i + 1 < r.elements.size(); i += 2) {
    out.second.emplace(r.elements[i].str, r.elements[i + 1].str);
  }
  co_return out;
}

net::awaitable<cluster_queue::script_write> cluster_queue::write_script(
    const std::string& name, const std::optional<std::string>& expected,
    const std::optional<std::string>& source, std::uint32_t max_named) {
  const std::string absent("\0absent", 7);
  const std::string remove("\0delete", 7);
  // Arguments built before the co_await (GCC 12 and conditional operators in one).
  auto keys = redis_args(settings_.prefix + "scripts", settings_.prefix + "scripts:version");
  auto args = redis_args(name, expected.value_or(absent), source.value_or(remove),
                         std::to_string(max_named));
  const auto r = co_await script(write_script_lua, std::move(keys), std::move(args));
  const auto& t = r.str;
  co_return t == "created" ? script_write::created
  : t == "replaced"        ? script_write::replaced
  : t == "deleted"         ? script_write::deleted
  : t == "full"            ? script_write::full
  : t == "missing"         ? script_write::missing
                           : script_write::conflict;
}

net::awaitable<void> cluster_queue::ping() {
  const auto r = co_await redis_.exec(redis_args("PING"));
  if (r.is_error()) {
    throw redis_unavailable("Redis answered PING with " + r.str);
  }
}

net::awaitable<void> cluster_queue::prepare() {
  const auto r = co_await redis_.exec(
      redis_args("XGROUP", "CREATE", settings_.prefix + "jobs", group, "0", "MKSTREAM"));
  if (r.is_error() && r.str.find("BUSYGROUP") == std::string::npos) {
    throw std::runtime_error("Redis refused XGROUP CREATE: " + r.str);
  }
}

net::awaitable<bool> cluster_queue::submit(const std::string& id, const std::string& params,
                                           std::int64_t now_ms) {
  const auto r = co_await script(
      submit_lua, redis_args(job_key(id), settings_.prefix + "jobs", settings_.prefix + "index"),
      redis_args(id, params, std::to_string(now_ms)));
  co_return r.integer == 1;
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
      }
    }
    out.push_back(std::move(d));
  }
  co_return out;
}

net::awaitable<cluster_queue::start_result> cluster_queue::start(const delivery& d,
                                                                 std::int64_t now_ms) {
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
  } else if (kind == "dead") {
    out.what = start_result::kind::dead;
  }
  co_return out;
}

net::awaitable<cluster_queue::beat_result> cluster_queue::beat(const delivery& d,
                                                               std::int64_t epoch,
                                                               double progress) {
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
    }
  }
  co_return j;
}

net::awaitable<std::vector<cluster_job>> cluster_queue::newest(std::size_t limit) {
  const auto r = co_await script(newest_lua, redis_args(settings_.prefix + "index"),
                                 redis_args(settings_.prefix, std::to_string(limit)));
  std::vector<cluster_job> out;
  for (std::size_t i = 0; i + 7 < r.elements.size(); i += 8) {
    cluster_job j;
    j.id = r.elements[i].str;
    j.status = r.elements[i + 1].str;
    j.progress = std::strtod(r.elements[i + 2].str.c_str(), nullptr);
    j.submitted_ms = to_int(r.elements[i + 3].str);
    j.started_ms = optional_int(r.elements[i + 4].str);
    j.finished_ms = optional_int(r.elements[i + 5].str);
    j.owner = r.elements[i + 6].str;
    j.epoch = to_int(r.elements[i + 7].str);
    out.push_back(std::move(j));
  }
  co_return out;
}

}  // namespace evald

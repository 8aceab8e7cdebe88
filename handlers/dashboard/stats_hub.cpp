#include "handlers/dashboard/stats_hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "handlers/store/backend.hpp"
#include "server/platform.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

using json = nlohmann::ordered_json;

std::uint64_t requests_of(const worker_metrics& m) {
  std::uint64_t n = 0;
  for (const auto& r : m.routes) {
    for (const auto& c : r.by_status_class) {
      n += c.get();
    }
  }
  return n;
}

double ratio(std::uint64_t part, std::chrono::nanoseconds whole) {
  if (whole.count() <= 0) {
    return 0;
  }
  return std::clamp(static_cast<double>(part) / static_cast<double>(whole.count()), 0.0, 1.0);
}

double rounded(double v, double unit) {
  return static_cast<double>(static_cast<long long>(v / unit + 0.5)) * unit;
}

}  // namespace

stats_hub::stats_hub(const config::settings& settings, std::span<worker* const> workers,
                     backend& stores)
    : settings_(settings), workers_(workers.begin(), workers.end()), stores_(stores) {}

void stats_hub::start() {
  if (workers_.empty()) {
    return;
  }
  timer_ = std::make_unique<net::steady_timer>(workers_.front()->context());
  net::co_spawn(workers_.front()->context(), run(), net::detached);
}

void stats_hub::stop() {
  if (workers_.empty()) {
    return;
  }
  net::post(workers_.front()->context(), [this] {
    stopping_ = true;
    if (timer_) {
      timer_->cancel();
    }
  });
}

stats_hub::raw stats_hub::read_counters() const {
  raw r;
  r.at = std::chrono::steady_clock::now();
  r.workers.reserve(workers_.size());
  for (const worker* w : workers_) {
    const auto& m = w->metrics();
    raw_worker rw;
    if (m.cpu_clock_valid.load(std::memory_order_acquire)) {
      rw.busy_ns = static_cast<std::uint64_t>(
          platform::thread_cpu_time_of(m.cpu_clock.load(std::memory_order_relaxed)).count());
    }
    rw.compute_ns = m.compute_ns.get();
    rw.requests = requests_of(m);
    r.workers.push_back(rw);
    r.chargen_bytes += m.chargen_http_bytes.get() + m.chargen_tcp_bytes.get();
    r.rejected += m.admission_rejected.get() + m.connections_rejected.get();
  }
  if (!workers_.empty() && workers_.front()->tenants() != nullptr) {
    for (const auto& t : workers_.front()->tenants()->all()) {
      auto& per_worker = r.tenants[t->name()];
      for (std::size_t i = 0; i < workers_.size(); ++i) {
        per_worker.push_back(t->worker_compute_ns(i));
      }
    }
  }
  return r;
}

std::string stats_hub::snapshot_json(const raw& now, const raw& before) const {
  const auto span = std::chrono::duration_cast<std::chrono::nanoseconds>(now.at - before.at);
  const double seconds = std::max(static_cast<double>(span.count()) / 1e9, 1e-9);
  json j;
  j["time"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  j["uptime_s"] =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started_)
          .count();
  json workers = json::array();
  for (std::size_t i = 0; i < now.workers.size(); ++i) {
    const auto& a = now.workers[i];
    const auto& b = i < before.workers.size() ? before.workers[i] : a;
    const auto& m = workers_[i]->metrics();
    // Busy = the thread's CPU clock; compute = the scheduler's own count of CPU in
    // compute slices; the rest of the busy time is I/O work (requests, sockets).
    const double busy = ratio(a.busy_ns - std::min(a.busy_ns, b.busy_ns), span);
    const double compute =
        std::min(busy, ratio(a.compute_ns - std::min(a.compute_ns, b.compute_ns), span));
    // Each tenant's share of this worker's time (tenants that computed here only).
    json tenants = json::object();
    for (const auto& [name, ns] : now.tenants) {
      const auto old = before.tenants.find(name);
      const std::uint64_t was =
          old != before.tenants.end() && i < old->second.size() ? old->second[i] : 0;
      const double share = ratio(ns[i] - std::min(ns[i], was), span);
      if (share >= 0.001) {
        tenants[name] = rounded(share, 0.001);
      }
    }
    workers.push_back(
        {{"worker", i},
         {"tenants", std::move(tenants)},
         {"io", rounded(busy - compute, 0.001)},
         {"compute", rounded(compute, 0.001)},
         {"requests_per_s", rounded(static_cast<double>(a.requests - b.requests) / seconds, 0.1)},
         {"connections", m.connections_open.get()},
         {"queued_slices", m.compute_queued.get()},
         // Jobs computing a share here (a worker helping another's trial division
         // counts it); "admitted": requests this worker accepted and has not answered.
         {"evaluations", m.evaluations_computing.get()},
         {"admitted", m.evaluations_in_flight.get()}});
  }
  j["workers"] = std::move(workers);
  const auto p = platform::read_process_stats();
  j["process"] = {
      {"rss_bytes", p.resident_bytes},
      {"chargen_bytes_per_s",
       rounded(static_cast<double>(now.chargen_bytes - before.chargen_bytes) / seconds, 1)},
      {"rejected_total", now.rejected},
      {"rejected_per_s",
       rounded(static_cast<double>(now.rejected - before.rejected) / seconds, 0.1)},
      {"stream_subscribers", subscribers_.load()}};
  json jobs;
  {
    std::lock_guard lock(mutex_);
    jobs["scope"] = jobs_.nodes ? "cluster" : "node";
    if (jobs_.reachable) {
      json counts = json::object();
      for (const auto& [status, n] : jobs_.by_status) {
        counts[status] = n;
      }
      jobs["by_status"] = std::move(counts);
    } else {
      jobs["by_status"] = nullptr;  // the store is unreachable
    }
    if (jobs_.nodes) {
      jobs["nodes"] = jobs_.reachable ? json(*jobs_.nodes) : json::array();
    }
  }
  j["jobs"] = std::move(jobs);
  return j.dump();
}

net::awaitable<void> stats_hub::run() {
  raw before = read_counters();
  auto due = before.at;
  while (!stopping_) {
    due += interval;
    {
      std::lock_guard lock(mutex_);
      next_due_ = due;
    }
    timer_->expires_at(due);
    co_await timer_->async_wait(use_tuple);
    if (stopping_) {
      break;
    }
    {
      auto view = co_await stores_.jobs(*workers_.front()).overview();
      std::lock_guard lock(mutex_);
      jobs_ = std::move(view);
    }
    const raw now = read_counters();
    auto snapshot = std::make_shared<const std::string>(snapshot_json(now, before));
    auto frame = std::make_shared<const std::string>("data: " + *snapshot + "\n\n");
    before = now;
    // A late timer (a long slice on worker 0) does not make the next ones bunch up.
    if (now.at > due + interval) {
      due = now.at;
    }
    std::lock_guard lock(mutex_);
    history_.push_back(snapshot);
    if (history_.size() > history_length) {
      history_.pop_front();
    }
    latest_.json = std::move(snapshot);
    latest_.frame = std::move(frame);
    latest_.sequence = sequence_.load(std::memory_order_relaxed) + 1;
    sequence_.store(latest_.sequence, std::memory_order_release);
  }
}

stats_hub::event stats_hub::latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::chrono::steady_clock::time_point stats_hub::next_due() const {
  std::lock_guard lock(mutex_);
  return next_due_;
}

std::string stats_hub::document() const {
  std::lock_guard lock(mutex_);
  std::string out = R"({"interval_ms":1000,"history_seconds":60,"current":)";
  out += latest_.json ? *latest_.json : "null";
  out += R"(,"history":[)";
  bool first = true;
  for (const auto& s : history_) {
    out += first ? "" : ",";
    out += *s;
    first = false;
  }
  out += "]}";
  return out;
}

bool stats_hub::try_subscribe() noexcept {
  auto n = subscribers_.load();
  do {
    if (n >= settings_.dashboard.max_streams) {
      return false;
    }
  } while (!subscribers_.compare_exchange_weak(n, n + 1));
  return true;
}

void stats_hub::unsubscribe() noexcept {
  subscribers_.fetch_sub(1);
}

}  // namespace evald

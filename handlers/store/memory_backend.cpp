#include "handlers/store/memory_backend.hpp"

#include <spdlog/spdlog.h>

#include "handlers/exec/launched_job.hpp"
#include "handlers/store/store_errors.hpp"
#include "server/metrics_text.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

job_view view_of(const job_table::snapshot& s) {
  job_view v;
  v.id = s.id;
  v.tenant = s.tenant;
  v.status = job_table::name(s.status);
  v.progress = s.progress;
  v.submitted_ms = unix_ms(s.submitted);
  if (s.started) {
    v.started_ms = unix_ms(*s.started);
  }
  if (s.finished) {
    v.finished_ms = unix_ms(*s.finished);
  }
  v.result = s.result;
  return v;
}

job_table::state state_of(const std::string& status) {
  return status == "done"      ? job_table::state::done
         : status == "expired" ? job_table::state::expired
                               : job_table::state::failed;
}

// The launched job, on the worker that accepted it; nobody waits on it.
net::awaitable<void> run_job(job_table& table, worker& w, const config::settings& settings,
                             std::string id, eval_request er, std::string tenant) {
  if (!table.start(id)) {
    co_return;  // cancelled while queued
  }
  std::function<void(std::shared_ptr<parallel_job>)> on_job =
      [&table, &id](std::shared_ptr<parallel_job> job) { table.set_job(id, job); };
  job_outcome out = co_await run_launched_request(w, settings, er, std::move(on_job), tenant);
  table.finish(id, state_of(out.status), std::move(out.result));
}

}  // namespace

class memory_backend::worker_jobs final : public job_store {
 public:
  worker_jobs(job_table& table, worker& w, const config::settings& settings)
      : table_(table), w_(w), settings_(settings) {}

  net::awaitable<job_submitted> submit(job_launch launch) override {
    // A retry must repeat the body and the ?timeout_ms= it came with.
    std::string fingerprint;
    if (!launch.idempotency_key.empty()) {
      fingerprint = launch.body;
      if (launch.timeout_from_query && launch.request.timeout_ms) {
        fingerprint += "\n?timeout_ms=" + std::to_string(*launch.request.timeout_ms);
      }
    }
    const auto made = table_.create(launch.idempotency_key, std::move(fingerprint), launch.tenant,
                                    launch.max_active);
    if (!made) {
      throw job_store_full();
    }
    if (made->replayed) {
      co_return job_submitted{made->id, true, job_table::name(made->status)};
    }
    net::co_spawn(
        w_.context(),
        run_job(table_, w_, settings_, made->id, std::move(launch.request), launch.tenant),
        [](std::exception_ptr e) {
          if (e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              spdlog::error("launched job failed: {}", ex.what());
            }
          }
        });
    co_return job_submitted{made->id};
  }

  net::awaitable<std::optional<job_view>> get(const std::string& id) override {
    const auto s = table_.get(id);
    co_return s ? std::optional<job_view>(view_of(*s)) : std::nullopt;
  }

  net::awaitable<std::optional<job_view>> cancel(const std::string& id) override {
    const auto s = table_.cancel(id);
    co_return s ? std::optional<job_view>(view_of(*s)) : std::nullopt;
  }

  net::awaitable<std::vector<job_view>> newest(std::size_t limit,
                                               const std::string& tenant) override {
    std::vector<job_view> out;
    for (const auto& s : table_.newest(limit, tenant)) {
      out.push_back(view_of(s));
    }
    co_return out;
  }

  net::awaitable<job_overview> overview() override {
    job_overview o;
    const auto counts = table_.count_by_state();
    for (std::size_t s = 0; s < counts.size(); ++s) {
      o.by_status.emplace_back(job_table::name(static_cast<job_table::state>(s)), counts[s]);
    }
    co_return o;
  }

 private:
  job_table& table_;
  worker& w_;
  const config::settings& settings_;
};

class memory_backend::worker_scripts final : public script_store {
 public:
  worker_scripts(script_table& table, std::uint32_t max) : table_(table), max_(max) {}

  net::awaitable<std::shared_ptr<const script_catalog>> current() override {
    co_return table_.snapshot();
  }

  net::awaitable<write_result> write(const std::string& key, std::optional<std::string> source,
                                     const condition& when, quota caps) override {
    co_return table_.write(key, std::move(source), when, max_, caps);
  }

 private:
  script_table& table_;
  std::uint32_t max_;
};

memory_backend::memory_backend(const config::settings& settings, std::span<worker* const> workers)
    : settings_(settings),
      jobs_(settings.jobs.max, settings.jobs.ttl, settings.jobs.max_result_bytes) {
  for (worker* w : workers) {
    job_stores_.push_back(std::make_unique<worker_jobs>(jobs_, *w, settings));
    script_stores_.push_back(
        std::make_unique<worker_scripts>(scripts_, settings.scripts.max_named));
  }
}

memory_backend::~memory_backend() = default;

job_store& memory_backend::jobs(const worker& w) {
  return *job_stores_.at(w.index());
}

script_store& memory_backend::scripts(const worker& w) {
  return *script_stores_.at(w.index());
}

net::awaitable<std::string> memory_backend::ready(const worker&) {
  co_return R"({"status":"ready"})";
}

void memory_backend::drain() {
  // Launched jobs have no connection to drain: they are cancelled (and say so in
  // /jobs/<id> while the process lives) rather than silently dropped.
  for (const auto& id : jobs_.cancel_all()) {
    spdlog::info("job {} cancelled by the shutdown", id);
  }
}

void memory_backend::write_metrics(exposition_writer& w) {
  const auto counts = jobs_.count_by_state();
  w.family("evald_jobs", "gauge", "Launched jobs kept in the job store, by status.");
  for (std::size_t s = 0; s < counts.size(); ++s) {
    w.sample("evald_jobs",
             exposition_writer::label("status", job_table::name(static_cast<job_table::state>(s))),
             counts[s]);
  }
}

}  // namespace evald

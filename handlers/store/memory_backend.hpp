#pragma once
#include <memory>
#include <span>
#include <vector>

#include "config/settings.hpp"
#include "handlers/store/backend.hpp"
#include "handlers/store/job_table.hpp"
#include "handlers/store/script_table.hpp"

namespace evald {

// The embedded default: jobs and scripts in this process's memory, jobs run on the
// worker that accepted them. Every call completes without suspending.
class memory_backend final : public backend {
 public:
  memory_backend(const config::settings& settings, std::span<worker* const> workers);
  ~memory_backend() override;

  job_store& jobs(const worker& w) override;
  script_store& scripts(const worker& w) override;
  net::awaitable<std::string> ready(const worker& w) override;
  void start() override {}
  void drain() override;
  void close() override {}
  void write_metrics(exposition_writer& w) override;
  std::string status_suffix() const override { return ""; }

  job_table& table() noexcept { return jobs_; }

 private:
  class worker_jobs;
  class worker_scripts;
  const config::settings& settings_;
  job_table jobs_;
  script_table scripts_;
  std::vector<std::unique_ptr<worker_jobs>> job_stores_;
  std::vector<std::unique_ptr<worker_scripts>> script_stores_;
};

}  // namespace evald

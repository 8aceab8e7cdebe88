#include "server/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <vector>

namespace evald {
namespace {

// An append-only file that can be reopened by name, for logrotate's "move, then
// signal" scheme. Writes and reopen share the sink's mutex; writes happen on the
// logging thread only.
class reopenable_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit reopenable_file_sink(const std::string& path) { file_.open(path, false); }
  void reopen() {
    std::lock_guard lock(mutex_);
    file_.reopen(false);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    file_.write(line);
  }
  void flush_() override { file_.flush(); }

 private:
  spdlog::details::file_helper file_;
};

std::vector<std::shared_ptr<reopenable_file_sink>> file_sinks;
std::shared_ptr<spdlog::logger> access_logger;

spdlog::sink_ptr make_sink(const std::string& path, bool to_stdout) {
  if (!path.empty()) {
    auto sink = std::make_shared<reopenable_file_sink>(path);
    file_sinks.push_back(sink);
    return sink;
  }
  if (to_stdout) {
    return std::make_shared<spdlog::sinks::stdout_sink_mt>();
  }
  return std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
}

}  // namespace

void init_logging(const config::logging_settings& settings) {
  const bool access = settings.access != "off";
  // Preallocated queue slots (~300 B each): 1024 for the server log alone, more
  // when every request adds a line.
  spdlog::init_thread_pool(access ? 16384 : 1024, 1);
  auto logger = std::make_shared<spdlog::async_logger>(
      "evald", make_sink(settings.file, false), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  set_log_level(settings.level);
  if (access) {
    access_logger = std::make_shared<spdlog::async_logger>(
        "access", make_sink(settings.access_file, true), spdlog::thread_pool(),
        spdlog::async_overflow_policy::overrun_oldest);
    access_logger->set_pattern("%v");
    access_logger->set_level(spdlog::level::info);
    spdlog::register_logger(access_logger);  // so flush_every() reaches it
  }
  // Files are written through stdio buffers: push them out once a second.
  if (!file_sinks.empty()) {
    spdlog::flush_every(std::chrono::seconds(1));
  }
}

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  if (access_logger) {
    access_logger->set_level(spdlog::level::info);  // the access log has no levels
  }
}

void reopen_log_files() {
  for (const auto& sink : file_sinks) {
    sink->reopen();
  }
}

void write_access_line(std::string_view line) {
  if (access_logger) {
    access_logger->info("{}", line);
  }
}

std::uint64_t dropped_log_lines() {
  const auto pool = spdlog::thread_pool();
  return pool ? pool->overrun_counter() : 0;
}

void shutdown_logging() {
  if (access_logger) {
    access_logger->flush();
  }
  if (auto logger = spdlog::default_logger()) {
    logger->flush();
  }
  access_logger.reset();
  file_sinks.clear();
  spdlog::shutdown();
}

}  // namespace evald

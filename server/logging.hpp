#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "config/settings.hpp"

namespace evald {

// Installs the loggers: asynchronous, one logging thread that sleeps until there
// is a line to write, a bounded queue that drops the oldest lines on overflow
// (counted), so a worker never blocks on stderr or disk. The server log goes to
// logging.file or stderr; the access log (when logging.access is not off) to
// logging.access_file or stdout. Throws std::runtime_error when a file cannot be opened.
void init_logging(const config::logging_settings& settings);
void set_log_level(const std::string& level);
// SIGHUP: reopen log files by name (after logrotate moved them).
void reopen_log_files();
// Queues one access-log line (already formatted); never blocks.
void write_access_line(std::string_view line);
// Log lines dropped because the queue was full.
std::uint64_t dropped_log_lines();
// Flushes and stops the logging thread.
void shutdown_logging();

}  // namespace evald

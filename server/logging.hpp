#pragma once
#include <string>

namespace evald {

// Installs the default spdlog logger: asynchronous, one logging thread that sleeps
// until there is a line to write, a bounded queue that drops the oldest lines on
// overflow, so a worker never blocks on stderr or disk.
void init_logging(const std::string& level);
void set_log_level(const std::string& level);
void shutdown_logging();

}  // namespace evald

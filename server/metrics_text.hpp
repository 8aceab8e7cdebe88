#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace evald {

class worker;

// Writes the Prometheus text exposition format (version 0.0.4): one HELP and TYPE
// line per family, then its samples.
class exposition_writer {
 public:
  explicit exposition_writer(std::string& out) : out_(out) {}

  // type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // `labels` is preformatted (`a="x",b="y"`, from label()) or empty.
  void sample(std::string_view name, std::string_view labels, std::uint64_t value);
  void sample(std::string_view name, std::string_view labels, double value);

  // `key="value"` with the value escaped (backslash, quote, newline).
  static std::string label(std::string_view key, std::string_view value);

 private:
  std::string& out_;
};

// The server's own families, summed over the workers at scrape time: requests and
// their duration by route, connections, timeouts, per-worker busy time and queue,
// evaluations, chunks, chargen bytes, build info and the process_* metrics.
// `route_labels` comes from router::labels().
void write_server_metrics(exposition_writer& w, std::span<worker* const> workers,
                          const std::vector<std::string>& route_labels,
                          std::chrono::system_clock::time_point started);

class tenant_registry;
// Per tenant (cardinality bounded by the keys file): requests admitted, refusals by
// quota, 403s, compute seconds, queued compute items and weight.
void write_tenant_metrics(exposition_writer& w, const tenant_registry& tenants);

}  // namespace evald

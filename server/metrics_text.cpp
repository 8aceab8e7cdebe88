#include "server/metrics_text.hpp"

#include <fmt/format.h>

#include <array>
#include <iterator>

#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/platform.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald {

void exposition_writer::family(std::string_view name, std::string_view type,
                               std::string_view help) {
  fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

namespace {

template <typename Value>
void append_sample(std::string& out, std::string_view name, std::string_view labels, Value value) {
  if (labels.empty()) {
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  } else {
    fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
  }
}

}  // namespace

void exposition_writer::sample(std::string_view name, std::string_view labels,
                               std::uint64_t value) {
  append_sample(out_, name, labels, value);
}

void exposition_writer::sample(std::string_view name, std::string_view labels, double value) {
  append_sample(out_, name, labels, value);
}

std::string exposition_writer::label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

namespace {

double seconds(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

// Sum of one cell over every worker.
template <typename Get>
std::uint64_t total(std::span<worker* const> workers, Get get) {
  std::uint64_t sum = 0;
  for (const worker* w : workers) {
    sum += get(w->metrics()).get();
  }
  return sum;
}

// "0.00005" rather than "5e-05": plain decimals, as client libraries print them.
std::string bucket_bound(std::size_t b) {
  std::string text = fmt::format("{:.6f}", duration_buckets[b]);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') {
    text.pop_back();
  }
  return text;
}

void write_requests(exposition_writer& w, std::span<worker* const> workers,
                    const std::vector<std::string>& route_labels) {
  static constexpr std::array<const char*, 5> classes = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  w.family("evald_requests_total", "counter",
           "HTTP requests answered, by route template and status class.");
  for (std::size_t r = 0; r < route_labels.size(); ++r) {
    const std::string route = exposition_writer::label("route", route_labels[r]);
    for (std::size_t c = 0; c < classes.size(); ++c) {
      const auto n = total(workers, [&](const worker_metrics& m) -> const metric_cell& {
        return m.routes[r].by_status_class[c];
      });
      if (n != 0 || c == 1) {  // 2xx always, the other classes once they occur
        w.sample("evald_requests_total", route + "," + exposition_writer::label("code", classes[c]),
                 n);
      }
    }
  }
  w.family("evald_request_duration_seconds", "histogram",
           "Time from a request's first byte to its response being queued, by route.");
  for (std::size_t r = 0; r < route_labels.size(); ++r) {
    const std::string route = exposition_writer::label("route", route_labels[r]);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= duration_buckets.size(); ++b) {
      cumulative += total(workers, [&](const worker_metrics& m) -> const metric_cell& {
        return m.routes[r].duration_bucket[b];
      });
      const std::string le = b < duration_buckets.size() ? bucket_bound(b) : "+Inf";
      w.sample("evald_request_duration_seconds_bucket",
               route + "," + exposition_writer::label("le", le), cumulative);
    }
    w.sample("evald_request_duration_seconds_sum", route,
             seconds(total(workers, [&](const worker_metrics& m) -> const metric_cell& {
               return m.routes[r].duration_ns_sum;
             })));
    w.sample("evald_request_duration_seconds_count", route, cumulative);
  }
}

void write_workers(exposition_writer& w, std::span<worker* const> workers) {
  w.family("evald_worker_busy_seconds_total", "counter",
           "CPU time of each worker thread (I/O, requests and compute).");
  for (const worker* wk : workers) {
    const auto& m = wk->metrics();
    const double busy = m.cpu_clock_valid.load(std::memory_order_acquire)
                            ? static_cast<double>(platform::thread_cpu_time_of(
                                                      m.cpu_clock.load(std::memory_order_relaxed))
                                                      .count()) /
                                  1e9
                            : 0.0;
    w.sample("evald_worker_busy_seconds_total",
             exposition_writer::label("worker", std::to_string(wk->index())), busy);
  }
  w.family("evald_worker_compute_seconds_total", "counter",
           "CPU time each worker spent in compute slices of parallel jobs.");
  for (const worker* wk : workers) {
    w.sample("evald_worker_compute_seconds_total",
             exposition_writer::label("worker", std::to_string(wk->index())),
             seconds(wk->metrics().compute_ns.get()));
  }
  w.family("evald_worker_requests_total", "counter", "Requests answered by each worker.");
  for (const worker* wk : workers) {
    std::uint64_t n = 0;
    for (const auto& r : wk->metrics().routes) {
      for (const auto& c : r.by_status_class) {
        n += c.get();
      }
    }
    w.sample("evald_worker_requests_total",
             exposition_writer::label("worker", std::to_string(wk->index())), n);
  }
  w.family("evald_worker_connections_open", "gauge", "Open client connections on each worker.");
  for (const worker* wk : workers) {
    w.sample("evald_worker_connections_open",
             exposition_writer::label("worker", std::to_string(wk->index())),
             wk->metrics().connections_open.get());
  }
  w.family("evald_worker_evaluations_in_flight", "gauge",
           "Evaluations admitted on each worker and not yet answered.");
  for (const worker* wk : workers) {
    w.sample("evald_worker_evaluations_in_flight",
             exposition_writer::label("worker", std::to_string(wk->index())),
             wk->metrics().evaluations_in_flight.get());
  }
  w.family("evald_worker_queued_tasks", "gauge",
           "Compute tasks queued on each worker behind its I/O.");
  for (const worker* wk : workers) {
    w.sample("evald_worker_queued_tasks",
             exposition_writer::label("worker", std::to_string(wk->index())),
             wk->metrics().compute_queued.get());
  }
}

}  // namespace

void write_server_metrics(exposition_writer& w, std::span<worker* const> workers,
                          const std::vector<std::string>& route_labels,
                          std::chrono::system_clock::time_point started) {
  using cell = const metric_cell&;
  w.family("evald_build_info", "gauge", "Version and I/O backend of this build (always 1).");
  w.sample("evald_build_info",
           exposition_writer::label("version", EVALD_VERSION) + "," +
               exposition_writer::label("backend", backend_name) + "," +
               exposition_writer::label("os", platform::os_name()),
           std::uint64_t{1});
  write_requests(w, workers, route_labels);
  w.family("evald_requests_in_flight", "gauge", "Requests being handled now.");
  w.sample("evald_requests_in_flight", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.requests_in_flight; }));
  w.family("evald_connections_open", "gauge", "Open client connections.");
  w.sample("evald_connections_open", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.connections_open; }));
  w.family("evald_connections_accepted_total", "counter", "Connections accepted.");
  w.sample("evald_connections_accepted_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.connections_accepted; }));
  w.family("evald_connections_rejected_total", "counter",
           "Connections answered 503 and closed because limits.max_connections was reached.");
  w.sample("evald_connections_rejected_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.connections_rejected; }));
  w.family("evald_timeouts_total", "counter",
           "Timeouts by kind (header, body, keep_alive, write, linger, evaluation, handshake).");
  for (std::size_t k = 0; k < timeout_kinds; ++k) {
    w.sample("evald_timeouts_total",
             exposition_writer::label("kind", timeout_kind_name(static_cast<timeout_kind>(k))),
             total(workers, [&](const worker_metrics& m) -> cell { return m.timeouts[k]; }));
  }
  w.family("evald_tls_handshakes_total", "counter",
           "TLS handshakes on TLS listeners by result: full, resumed, or why none was made "
           "(timeout, plain_http, not_tls, closed, failed).");
  for (std::size_t o = 0; o < tls_outcomes; ++o) {
    w.sample("evald_tls_handshakes_total",
             exposition_writer::label("result", tls_outcome_name(static_cast<tls_outcome>(o))),
             total(workers, [&](const worker_metrics& m) -> cell { return m.tls[o]; }));
  }
  write_workers(w, workers);
  w.family("evald_evaluations_total", "counter", "Evaluations finished (any outcome).");
  w.sample("evald_evaluations_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.evaluations; }));
  w.family("evald_evaluation_wall_seconds_total", "counter", "Wall time of finished evaluations.");
  w.sample("evald_evaluation_wall_seconds_total", "",
           seconds(total(workers,
                         [](const worker_metrics& m) -> cell { return m.evaluation_wall_ns; })));
  w.family("evald_evaluation_cpu_seconds_total", "counter",
           "CPU time of finished evaluations, summed over workers.");
  w.sample(
      "evald_evaluation_cpu_seconds_total", "",
      seconds(total(workers, [](const worker_metrics& m) -> cell { return m.evaluation_cpu_ns; })));
  w.family("evald_chunks_total", "counter", "Chunks of parallel jobs run to completion.");
  w.sample("evald_chunks_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.chunks_run; }));
  w.family("evald_admission_rejections_total", "counter",
           "Evaluations refused with 503 because limits.max_evaluations was reached.");
  w.sample("evald_admission_rejections_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.admission_rejected; }));
  w.family("evald_script_evaluations_total", "counter",
           "Script evaluations (one per input) by outcome: ok, syntax, error, memory, burst, "
           "result, too_large. Those stopped at a deadline or cancel count as evaluation "
           "timeouts.");
  for (std::size_t o = 0; o < script_outcomes; ++o) {
    w.sample(
        "evald_script_evaluations_total",
        exposition_writer::label("outcome", script_outcome_name(static_cast<script_outcome>(o))),
        total(workers, [&](const worker_metrics& m) -> cell { return m.scripts[o]; }));
  }
  w.family("evald_conditions_evaluated_total", "counter",
           "Log Detector conditions evaluated (launch conditions included).");
  w.sample("evald_conditions_evaluated_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.conditions_evaluated; }));
  w.family("evald_conditions_true_total", "counter",
           "Log Detector conditions found true (a launch condition that called launch()).");
  w.sample("evald_conditions_true_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.conditions_true; }));
  w.family("evald_conditions_failed_total", "counter",
           "Log Detector conditions that failed: syntax, runtime error, memory, timeout.");
  w.sample("evald_conditions_failed_total", "",
           total(workers, [](const worker_metrics& m) -> cell { return m.conditions_failed; }));
  w.family("evald_chargen_sent_bytes_total", "counter", "Chargen bytes written, by transport.");
  w.sample("evald_chargen_sent_bytes_total", exposition_writer::label("transport", "http"),
           total(workers, [](const worker_metrics& m) -> cell { return m.chargen_http_bytes; }));
  w.sample("evald_chargen_sent_bytes_total", exposition_writer::label("transport", "tcp"),
           total(workers, [](const worker_metrics& m) -> cell { return m.chargen_tcp_bytes; }));

  w.family("evald_log_lines_dropped_total", "counter",
           "Log lines dropped because the logging queue was full (workers never wait on logs).");
  w.sample("evald_log_lines_dropped_total", "", dropped_log_lines());

  const auto p = platform::read_process_stats();
  w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time in seconds.");
  w.sample("process_cpu_seconds_total", "", p.cpu_seconds);
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", "", p.resident_bytes);
  w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  w.sample("process_virtual_memory_bytes", "", p.virtual_bytes);
  w.family("process_open_fds", "gauge", "Number of open file descriptors.");
  w.sample("process_open_fds", "", p.open_fds);
  if (p.max_fds != 0) {
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", "", p.max_fds);
  }
  w.family("process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
  w.sample("process_start_time_seconds", "",
           std::chrono::duration<double>(started.time_since_epoch()).count());
}

}  // namespace evald

namespace evald {

void write_tenant_metrics(exposition_writer& w, const tenant_registry& tenants) {
  const auto all = tenants.all();
  if (all.empty()) {
    return;
  }
  w.family("evald_tenant_requests_total", "counter",
           "Requests admitted per tenant (routes that need a key).");
  for (const auto& t : all) {
    w.sample("evald_tenant_requests_total", exposition_writer::label("tenant", t->name()),
             t->requests());
  }
  w.family("evald_tenant_refused_total", "counter",
           "Requests refused with 429 per tenant and quota (requests, compute).");
  for (const auto& t : all) {
    const std::string tenant = exposition_writer::label("tenant", t->name());
    w.sample("evald_tenant_refused_total", tenant + ",quota=\"requests\"", t->refused(0));
    w.sample("evald_tenant_refused_total", tenant + ",quota=\"compute\"", t->refused(1));
  }
  w.family("evald_tenant_forbidden_total", "counter",
           "Requests refused with 403 per tenant (a key without the route's scope).");
  for (const auto& t : all) {
    w.sample("evald_tenant_forbidden_total", exposition_writer::label("tenant", t->name()),
             t->forbidden());
  }
  w.family("evald_tenant_compute_seconds_total", "counter",
           "CPU seconds of evaluations per tenant, summed over workers.");
  for (const auto& t : all) {
    w.sample("evald_tenant_compute_seconds_total", exposition_writer::label("tenant", t->name()),
             static_cast<double>(t->compute_ns()) / 1e9);
  }
  w.family("evald_tenant_queued_compute", "gauge",
           "Compute items queued per tenant on all workers (fair share scheduler).");
  for (const auto& t : all) {
    w.sample("evald_tenant_queued_compute", exposition_writer::label("tenant", t->name()),
             static_cast<double>(t->queued_slices.load(std::memory_order_relaxed)));
  }
  w.family("evald_tenant_weight", "gauge", "Each tenant's share of every worker's compute.");
  for (const auto& t : all) {
    w.sample("evald_tenant_weight", exposition_writer::label("tenant", t->name()), t->weight());
  }
}

}  // namespace evald

#include "config/load.hpp"

#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/ip_literal.hpp"
#include "config/units.hpp"

namespace evald::config {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw config_error((path.empty() ? std::string("/") : path) + ": " + reason);
}

std::string describe(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) {
    text = text.substr(0, 57) + "...";
  }
  return std::string(v.type_name()) + " " + text;
}

std::uint64_t read_integer(const json& v, const std::string& path, std::uint64_t lo,
                           std::uint64_t hi) {
  const std::string want =
      "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!v.is_number_integer()) {
    fail(path, want + ", got " + describe(v));
  }
  if (v.is_number_unsigned()) {
    const auto x = v.get<std::uint64_t>();
    if (x < lo || x > hi) {
      fail(path, want + ", got " + std::to_string(x));
    }
    return x;
  }
  const auto x = v.get<std::int64_t>();
  if (x < 0 || static_cast<std::uint64_t>(x) < lo || static_cast<std::uint64_t>(x) > hi) {
    fail(path, want + ", got " + std::to_string(x));
  }
  return static_cast<std::uint64_t>(x);
}

std::uint64_t read_size(const json& v, const std::string& path, std::uint64_t lo,
                        std::uint64_t hi) {
  std::uint64_t bytes = 0;
  if (v.is_string()) {
    try {
      bytes = parse_size(v.get<std::string>());
    } catch (const std::invalid_argument& e) {
      fail(path, e.what());
    }
  } else if (v.is_number_integer()) {
    bytes = read_integer(v, path, 0, UINT64_MAX);
  } else {
    fail(path, "expected a size such as \"8KiB\" or a number of bytes, got " + describe(v));
  }
  if (bytes < lo || bytes > hi) {
    fail(path, "must be from " + format_size(lo) + " to " + format_size(hi) + ", got " +
                   format_size(bytes));
  }
  return bytes;
}

std::chrono::microseconds read_duration(const json& v, const std::string& path,
                                        std::chrono::microseconds lo,
                                        std::chrono::microseconds hi) {
  if (!v.is_string()) {
    fail(path, "expected a duration such as \"10s\" or \"250ms\", got " + describe(v));
  }
  std::chrono::microseconds d{};
  try {
    d = parse_duration(v.get<std::string>());
  } catch (const std::invalid_argument& e) {
    fail(path, e.what());
  }
  if (d < lo || d > hi) {
    fail(path, "must be from " + format_duration(lo) + " to " + format_duration(hi) + ", got " +
                   format_duration(d));
  }
  return d;
}

duration read_millis(const json& v, const std::string& path, std::chrono::microseconds lo,
                     std::chrono::microseconds hi) {
  const auto d = read_duration(v, path, lo, hi);
  if (d.count() % 1000 != 0) {
    fail(path, "must be a whole number of milliseconds");
  }
  return std::chrono::duration_cast<duration>(d);
}

double read_real(const json& v, const std::string& path, double lo, double hi) {
  if (!v.is_number()) {
    fail(path, "expected a number, got " + describe(v));
  }
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi)) {
    fail(path, "must be from " + json(lo).dump() + " to " + json(hi).dump() + ", got " + v.dump());
  }
  return d;
}

std::string read_string(const json& v, const std::string& path) {
  if (!v.is_string()) {
    fail(path, "expected a string, got " + describe(v));
  }
  return v.get<std::string>();
}

std::vector<std::string> read_endpoints(const json& v, const std::string& path, bool allow_empty) {
  if (!v.is_array()) {
    fail(path, "expected a list of \"host:port\" strings, got " + describe(v));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string item_path = path + "/" + std::to_string(i);
    std::string text = read_string(v[i], item_path);
    try {
      parse_endpoint(text);
    } catch (const config_error& e) {
      fail(item_path, e.what());
    }
    out.push_back(std::move(text));
  }
  if (out.empty() && !allow_empty) {
    fail(path, "needs at least one address");
  }
  return out;
}

std::string read_string_member(const json& j, const std::string& path, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) {
    fail(path, std::string("needs \"") + name + "\"");
  }
  return read_string(*it, path + "/" + name);
}

// {"cert": …, "key": …} or {"certificates": [{"cert","key"}, …]}, and "client_ca".
tls_settings read_tls(const json& v, const std::string& path) {
  if (!v.is_object()) {
    fail(path, "expected {\"cert\": \"file.pem\", \"key\": \"file.pem\"}, got " + describe(v));
  }
  tls_settings t;
  for (const auto& [k, x] : v.items()) {
    const std::string q = path + "/" + k;
    if (k == "cert" || k == "key") {
      continue;
    }
    if (k == "client_ca") {
      t.client_ca = read_string(x, q);
    } else if (k == "client_scopes") {
      if (!x.is_array()) {
        fail(q, "expected a list of scopes (eval, read, scripts:write, metrics, admin)");
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::string scope = read_string(x[i], q + "/" + std::to_string(i));
        if (scope != "eval" && scope != "read" && scope != "scripts:write" && scope != "metrics" &&
            scope != "admin") {
          fail(q + "/" + std::to_string(i),
               "expected one of eval, read, scripts:write, metrics, admin; got \"" + scope + "\"");
        }
        t.client_scopes.push_back(scope);
      }
    } else if (k == "certificates") {
      if (!x.is_array() || x.empty()) {
        fail(q, "expected a list of {\"cert\", \"key\"} objects");
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::string item = q + "/" + std::to_string(i);
        if (!x[i].is_object() || x[i].size() != 2) {
          fail(item, "expected {\"cert\": \"file.pem\", \"key\": \"file.pem\"}");
        }
        t.certificates.push_back(
            {read_string_member(x[i], item, "cert"), read_string_member(x[i], item, "key")});
      }
    } else {
      fail(q, "unknown member (expected cert, key, certificates, client_ca, client_scopes)");
    }
  }
  const bool pair = v.contains("cert") || v.contains("key");
  if (pair) {
    t.certificates.insert(t.certificates.begin(), {read_string_member(v, path, "cert"),
                                                   read_string_member(v, path, "key")});
  }
  if (t.certificates.empty()) {
    fail(path, "needs \"cert\" and \"key\" (or \"certificates\")");
  }
  if (!t.client_scopes.empty() && t.client_ca.empty()) {
    fail(path + "/client_scopes", "needs client_ca (the CAs whose certificates name tenants)");
  }
  return t;
}

// "listen": ["host:port", {"address": "host:port", "tls": {...}}, ...]
void read_listen(const json& v, const std::string& path, settings& s) {
  if (!v.is_array()) {
    fail(path, "expected a list of \"host:port\" strings or {\"address\", \"tls\"} objects, got " +
                   describe(v));
  }
  std::vector<std::string> out;
  std::map<std::size_t, tls_settings> tls;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string item_path = path + "/" + std::to_string(i);
    std::string text;
    if (v[i].is_object()) {
      for (const auto& [k, x] : v[i].items()) {
        if (k != "address" && k != "tls") {
          fail(item_path + "/" + k, "unknown member (expected address, tls)");
        }
      }
      text = read_string_member(v[i], item_path, "address");
      if (const auto t = v[i].find("tls"); t != v[i].end()) {
        tls.emplace(i, read_tls(*t, item_path + "/tls"));
      }
    } else {
      text = read_string(v[i], item_path);
    }
    try {
      parse_endpoint(text);
    } catch (const config_error& e) {
      fail(item_path, e.what());
    }
    out.push_back(std::move(text));
  }
  if (out.empty()) {
    fail(path, "needs at least one address");
  }
  s.listen = std::move(out);
  s.listen_tls = std::move(tls);
}

// Visits the members of one JSON object; any key without a handler is an error.
using member_handlers = std::map<std::string, std::function<void(const json&, const std::string&)>>;
void read_object(const json& j, const std::string& path, const member_handlers& handlers) {
  if (!j.is_object()) {
    fail(path, "expected an object, got " + describe(j));
  }
  for (const auto& [key, value] : j.items()) {
    const auto it = handlers.find(key);
    if (it == handlers.end()) {
      std::string known;
      for (const auto& [name, _] : handlers) {
        known += (known.empty() ? "" : ", ") + name;
      }
      fail(path + "/" + key, "unknown key (known here: " + known + ")");
    }
    it->second(value, path + "/" + key);
  }
}

constexpr std::chrono::microseconds ms(std::int64_t v) {
  return std::chrono::milliseconds(v);
}

}  // namespace

tenant_limits read_tenant_limits(const json& j, const std::string& path, tenant_limits base) {
  read_object(
      j, path,
      {{"weight",
        [&](const json& x, const std::string& q) { base.weight = read_real(x, q, 0.01, 1000); }},
       {"requests_per_second",
        [&](const json& x, const std::string& q) {
          base.requests_per_second = read_real(x, q, 0, 1e9);
        }},
       {"request_burst",
        [&](const json& x, const std::string& q) { base.request_burst = read_real(x, q, 0, 1e9); }},
       {"compute_per_second",
        [&](const json& x, const std::string& q) {
          base.compute_per_second = read_real(x, q, 0, 1e6);
        }},
       {"compute_burst",
        [&](const json& x, const std::string& q) { base.compute_burst = read_real(x, q, 0, 1e6); }},
       {"max_jobs",
        [&](const json& x, const std::string& q) {
          base.max_jobs = static_cast<std::uint32_t>(read_integer(x, q, 0, 1'000'000));
        }},
       {"max_scripts",
        [&](const json& x, const std::string& q) {
          base.max_scripts = static_cast<std::uint32_t>(read_integer(x, q, 0, 1'000'000));
        }},
       {"max_script_bytes", [&](const json& x, const std::string& q) {
          base.max_script_bytes = read_size(x, q, 0, std::uint64_t{1} << 40);
        }}});
  return base;
}

bool is_log_level(std::string_view level) {
  for (std::string_view l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (level == l) {
      return true;
    }
  }
  return false;
}

bool is_header_value(std::string_view value) {
  for (const char c : value) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return value.empty() || (value.front() != ' ' && value.back() != ' ');
}

bool is_access_format(std::string_view format) {
  return format == "off" || format == "text" || format == "json";
}

endpoint_text parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    throw config_error("expected \"host:port\", got \"" + std::string(text) + "\"");
  }
  std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    throw config_error("port must be a number from 0 to 65535 in \"" + std::string(text) + "\"");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!is_ipv6_literal(host)) {
      throw config_error("not an IPv6 address in \"" + std::string(text) + "\"");
    }
  } else if (host == "localhost") {
    host = "127.0.0.1";
  } else if (host == "*" || host.empty()) {
    host = "0.0.0.0";
  } else if (!is_ipv4_literal(host)) {
    throw config_error("host must be an IPv4 address, [IPv6] or localhost in \"" +
                       std::string(text) + "\"");
  }
  return {host, static_cast<std::uint16_t>(port)};
}

settings from_json(const json& j, settings s) {
  read_object(
      j, "",
      {{"listen", [&](const json& v, const std::string& p) { read_listen(v, p, s); }},
       {"threads",
        [&](const json& v, const std::string& p) {
          s.threads = static_cast<std::uint32_t>(read_integer(v, p, 0, 1024));
        }},
       {"limits",
        [&](const json& v, const std::string& p) {
          auto& l = s.limits;
          read_object(
              v, p,
              {{"max_connections",
                [&](const json& x, const std::string& q) {
                  l.max_connections = static_cast<std::uint32_t>(read_integer(x, q, 1, 1'000'000));
                }},
               {"max_header_size",
                [&](const json& x, const std::string& q) {
                  l.max_header_bytes = read_size(x, q, 1024, 1024 * 1024);
                }},
               {"max_body_size",
                [&](const json& x, const std::string& q) {
                  l.max_body_bytes = read_size(x, q, 0, 1ULL << 30);
                }},
               {"max_requests_per_connection",
                [&](const json& x, const std::string& q) {
                  l.max_requests_per_connection =
                      static_cast<std::uint32_t>(read_integer(x, q, 1, 100'000'000));
                }},
               {"max_eval_time",
                [&](const json& x, const std::string& q) {
                  l.max_eval_time = read_millis(x, q, ms(1), ms(24LL * 3'600'000));
                }},
               {"max_evaluations",
                [&](const json& x, const std::string& q) {
                  l.max_evaluations = static_cast<std::uint32_t>(read_integer(x, q, 1, 1'000'000));
                }},
               {"max_batch_items",
                [&](const json& x, const std::string& q) {
                  l.max_batch_items = static_cast<std::uint32_t>(read_integer(x, q, 1, 10'000'000));
                }},
               {"max_response_size", [&](const json& x, const std::string& q) {
                  l.max_response_bytes = read_size(x, q, 1024, 1ULL << 34);
                }}});
        }},
       {"timeouts",
        [&](const json& v, const std::string& p) {
          auto& t = s.timeouts;
          const auto hour = ms(3'600'000);
          read_object(
              v, p,
              {{"header", [&](const json& x,
                              const std::string& q) { t.header = read_millis(x, q, ms(1), hour); }},
               {"keep_alive",
                [&](const json& x, const std::string& q) {
                  t.keep_alive = read_millis(x, q, ms(1), hour);
                }},
               {"body", [&](const json& x,
                            const std::string& q) { t.body = read_millis(x, q, ms(1), hour); }},
               {"write_stall",
                [&](const json& x, const std::string& q) {
                  t.write_stall = read_millis(x, q, ms(1), hour);
                }},
               {"shutdown",
                [&](const json& x, const std::string& q) {
                  t.shutdown = read_millis(x, q, ms(0), hour);
                }},
               {"drain_idle",
                [&](const json& x, const std::string& q) {
                  t.drain_idle = read_millis(x, q, ms(0), hour);
                }},
               {"handshake", [&](const json& x, const std::string& q) {
                  t.handshake = read_millis(x, q, ms(1), hour);
                }}});
        }},
       {"eval",
        [&](const json& v, const std::string& p) {
          read_object(
              v, p,
              {{"slice",
                [&](const json& x, const std::string& q) {
                  s.eval.slice = read_duration(x, q, std::chrono::microseconds(10), ms(100));
                }},
               {"chunk_time",
                [&](const json& x, const std::string& q) {
                  s.eval.chunk_time = read_duration(x, q, std::chrono::microseconds(10), ms(100));
                }},
               {"trial_precheck", [&](const json& x, const std::string& q) {
                  s.eval.trial_precheck = read_integer(x, q, 7, 1ULL << 32);
                }}});
        }},
       {"scripts",
        [&](const json& v, const std::string& p) {
          auto& sc = s.scripts;
          read_object(
              v, p,
              {{"memory",
                [&](const json& x, const std::string& q) {
                  sc.memory = read_size(x, q, 64 * 1024, 1ULL << 32);
                }},
               {"burst",
                [&](const json& x, const std::string& q) {
                  sc.burst = read_duration(x, q, std::chrono::microseconds(100), ms(10'000));
                }},
               {"max_source",
                [&](const json& x, const std::string& q) {
                  sc.max_source = read_size(x, q, 16, 16 * 1024 * 1024);
                }},
               {"max_result",
                [&](const json& x, const std::string& q) {
                  sc.max_result = read_size(x, q, 64, 1ULL << 30);
                }},
               {"max_log",
                [&](const json& x, const std::string& q) {
                  sc.max_log = read_size(x, q, 0, 1ULL << 30);
                }},
               {"max_named",
                [&](const json& x, const std::string& q) {
                  sc.max_named = static_cast<std::uint32_t>(read_integer(x, q, 0, 1'000'000));
                }},
               {"reuse_states",
                [&](const json& x, const std::string& q) {
                  if (!x.is_boolean()) {
                    fail(q, "expected true or false, got " + describe(x));
                  }
                  sc.reuse_states = x.get<bool>();
                }},
               {"condition_time",
                [&](const json& x, const std::string& q) {
                  sc.condition_time =
                      read_duration(x, q, std::chrono::microseconds(100), ms(3'600'000));
                }},
               {"condition_cache", [&](const json& x, const std::string& q) {
                  sc.condition_cache = static_cast<std::uint32_t>(read_integer(x, q, 1, 1'000'000));
                }}});
        }},
       {"http",
        [&](const json& v, const std::string& p) {
          read_object(v, p, {{"cache_control", [&](const json& x, const std::string& q) {
                                s.http.cache_control = read_string(x, q);
                                if (!is_header_value(s.http.cache_control)) {
                                  fail(q, "must be printable ASCII (a header value)");
                                }
                              }}});
        }},
       {"chargen",
        [&](const json& v, const std::string& p) {
          read_object(v, p,
                      {{"max_bytes",
                        [&](const json& x, const std::string& q) {
                          s.chargen.max_bytes = read_size(x, q, 1, 1ULL << 50);
                        }},
                       {"tcp_listen", [&](const json& x, const std::string& q) {
                          s.chargen.tcp_listen = read_endpoints(x, q, true);
                        }}});
        }},
       {"jobs",
        [&](const json& v, const std::string& p) {
          read_object(v, p,
                      {{"max",
                        [&](const json& x, const std::string& q) {
                          s.jobs.max = static_cast<std::uint32_t>(read_integer(x, q, 1, 1'000'000));
                        }},
                       {"ttl",
                        [&](const json& x, const std::string& q) {
                          s.jobs.ttl = read_millis(x, q, ms(1), ms(7LL * 24 * 3'600'000));
                        }},
                       {"max_results_size", [&](const json& x, const std::string& q) {
                          s.jobs.max_result_bytes = read_size(x, q, 1024, 1ULL << 40);
                        }}});
        }},
       {"cluster",
        [&](const json& v, const std::string& p) {
          auto& c = s.cluster;
          read_object(
              v, p,
              {{"redis",
                [&](const json& x, const std::string& q) {
                  c.redis = read_string(x, q);
                  if (!c.redis.empty() && !c.redis.starts_with("redis://") &&
                      !c.redis.starts_with("unix:/")) {
                    fail(q, "expected \"redis://IP:PORT\", \"unix:/path\" or \"\" (off)");
                  }
                }},
               {"user", [&](const json& x, const std::string& q) { c.user = read_string(x, q); }},
               {"password",
                [&](const json& x, const std::string& q) { c.password = read_string(x, q); }},
               {"prefix",
                [&](const json& x, const std::string& q) {
                  c.prefix = read_string(x, q);
                  if (c.prefix.empty() || c.prefix.size() > 64) {
                    fail(q, "must be 1 to 64 characters");
                  }
                }},
               {"node_id",
                [&](const json& x, const std::string& q) {
                  c.node_id = read_string(x, q);
                  if (c.node_id.size() > 128) {
                    fail(q, "must be at most 128 characters");
                  }
                }},
               {"lease",
                [&](const json& x, const std::string& q) {
                  c.lease = read_millis(x, q, ms(500), ms(3'600'000));
                }},
               {"heartbeat",
                [&](const json& x, const std::string& q) {
                  c.heartbeat = read_millis(x, q, ms(50), ms(600'000));
                }},
               {"max_deliveries",
                [&](const json& x, const std::string& q) {
                  c.max_deliveries = static_cast<std::uint32_t>(read_integer(x, q, 1, 1000));
                }},
               {"jobs_per_worker",
                [&](const json& x, const std::string& q) {
                  c.jobs_per_worker = static_cast<std::uint32_t>(read_integer(x, q, 1, 1000));
                }},
               {"command_timeout",
                [&](const json& x, const std::string& q) {
                  c.command_timeout = read_millis(x, q, ms(50), ms(600'000));
                }},
               {"split_time",
                [&](const json& x, const std::string& q) {
                  c.split_time = read_millis(x, q, ms(0), ms(24LL * 3'600'000));
                }},
               {"part_time",
                [&](const json& x, const std::string& q) {
                  c.part_time = read_millis(x, q, ms(1), ms(3'600'000));
                }},
               {"map_part_inputs", [&](const json& x, const std::string& q) {
                  c.map_part_inputs = static_cast<std::uint32_t>(read_integer(x, q, 1, 1'000'000));
                }}});
        }},
       {"dashboard",
        [&](const json& v, const std::string& p) {
          read_object(v, p,
                      {{"enabled",
                        [&](const json& x, const std::string& q) {
                          if (!x.is_boolean()) {
                            fail(q, "expected true or false, got " + describe(x));
                          }
                          s.dashboard.enabled = x.get<bool>();
                        }},
                       {"max_streams", [&](const json& x, const std::string& q) {
                          s.dashboard.max_streams =
                              static_cast<std::uint32_t>(read_integer(x, q, 0, 100'000));
                        }}});
        }},
       {"auth",
        [&](const json& v, const std::string& p) {
          read_object(
              v, p,
              {{"keys_file",
                [&](const json& x, const std::string& q) { s.auth.keys_file = read_string(x, q); }},
               {"anonymous", [&](const json& x, const std::string& q) {
                  if (!x.is_array()) {
                    fail(q,
                         "expected a list of scopes (eval, read, scripts:write, metrics, admin), "
                         "got " +
                             describe(x));
                  }
                  s.auth.anonymous.clear();
                  for (std::size_t i = 0; i < x.size(); ++i) {
                    std::string scope = read_string(x[i], q + "/" + std::to_string(i));
                    if (scope != "eval" && scope != "read" && scope != "scripts:write" &&
                        scope != "metrics" && scope != "admin") {
                      fail(q + "/" + std::to_string(i),
                           "expected one of eval, read, scripts:write, metrics, admin; got \"" +
                               scope + "\"");
                    }
                    s.auth.anonymous.push_back(std::move(scope));
                  }
                  s.auth.anonymous_set = true;
                }}});
        }},
       {"tenants",
        [&](const json& v, const std::string& p) {
          read_object(v, p,
                      {{"scheduler",
                        [&](const json& x, const std::string& q) {
                          const std::string mode = read_string(x, q);
                          if (mode != "fair" && mode != "fifo") {
                            fail(q, "expected \"fair\" or \"fifo\", got \"" + mode + "\"");
                          }
                          s.tenants.fair = mode == "fair";
                        }},
                       {"default", [&](const json& x, const std::string& q) {
                          s.tenants.defaults = read_tenant_limits(x, q, s.tenants.defaults);
                        }}});
        }},
       {"logging", [&](const json& v, const std::string& p) {
          read_object(
              v, p,
              {{"level",
                [&](const json& x, const std::string& q) {
                  s.logging.level = read_string(x, q);
                  if (!is_log_level(s.logging.level)) {
                    fail(q,
                         "expected one of trace, debug, info, warn, error, critical, off; got \"" +
                             s.logging.level + "\"");
                  }
                }},
               {"file",
                [&](const json& x, const std::string& q) { s.logging.file = read_string(x, q); }},
               {"access",
                [&](const json& x, const std::string& q) {
                  s.logging.access = read_string(x, q);
                  if (!is_access_format(s.logging.access)) {
                    fail(q, "expected one of off, text, json; got \"" + s.logging.access + "\"");
                  }
                }},
               {"access_file", [&](const json& x, const std::string& q) {
                  s.logging.access_file = read_string(x, q);
                }}});
        }}});
  return s;
}

settings load_file(const std::string& path, settings base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw config_error(path + ": cannot open the config file");
  }
  std::stringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw config_error(path + ": not valid JSON: " + e.what());
  }
  try {
    return from_json(j, std::move(base));
  } catch (const config_error& e) {
    throw config_error(path + ": " + e.what());
  }
}

void apply_environment(settings& s, const env_lookup& getenv_fn) {
  if (auto v = getenv_fn("EVALD_LISTEN")) {
    std::vector<std::string> list;
    std::stringstream ss(*v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) {
        continue;
      }
      try {
        parse_endpoint(item);
      } catch (const config_error& e) {
        throw config_error(std::string("EVALD_LISTEN: ") + e.what());
      }
      list.push_back(item);
    }
    if (list.empty()) {
      throw config_error("EVALD_LISTEN: needs at least one host:port");
    }
    s.listen = std::move(list);
    s.listen_tls.clear();  // plain addresses: the config file's TLS listeners are replaced
  }
  if (auto v = getenv_fn("EVALD_THREADS")) {
    try {
      s.threads = static_cast<std::uint32_t>(read_integer(json::parse(*v), "", 0, 1024));
    } catch (const std::exception&) {
      throw config_error("EVALD_THREADS: expected an integer from 0 to 1024, got \"" + *v + "\"");
    }
  }
  if (auto v = getenv_fn("EVALD_LOG_LEVEL")) {
    if (!is_log_level(*v)) {
      throw config_error(
          "EVALD_LOG_LEVEL: expected trace, debug, info, warn, error, critical or off, got \"" +
          *v + "\"");
    }
    s.logging.level = *v;
  }
  if (auto v = getenv_fn("EVALD_CLUSTER_REDIS")) {
    if (!v->empty() && !v->starts_with("redis://") && !v->starts_with("unix:/")) {
      throw config_error("EVALD_CLUSTER_REDIS: expected redis://IP:PORT or unix:/path, got \"" +
                         *v + "\"");
    }
    s.cluster.redis = *v;
  }
  if (auto v = getenv_fn("EVALD_CLUSTER_PASSWORD")) {
    s.cluster.password = *v;
  }
  if (auto v = getenv_fn("EVALD_CLUSTER_USER")) {
    s.cluster.user = *v;
  }
  if (auto v = getenv_fn("EVALD_KEYS_FILE")) {
    s.auth.keys_file = *v;
  }
  if (auto v = getenv_fn("EVALD_ANONYMOUS")) {
    // Comma-separated scopes of a client without a key ("" = none).
    s.auth.anonymous.clear();
    std::string_view rest = *v;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string scope(rest.substr(0, comma));
      if (scope != "eval" && scope != "read" && scope != "scripts:write" && scope != "metrics" &&
          scope != "admin") {
        throw config_error(
            "EVALD_ANONYMOUS: expected scopes among eval, read, scripts:write, "
            "metrics, admin, comma-separated; got \"" +
            scope + "\"");
      }
      s.auth.anonymous.push_back(scope);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    s.auth.anonymous_set = true;
  }
  if (auto v = getenv_fn("EVALD_NODE_ID")) {
    s.cluster.node_id = *v;
  }
  if (auto v = getenv_fn("EVALD_ACCESS_LOG")) {
    if (!is_access_format(*v)) {
      throw config_error("EVALD_ACCESS_LOG: expected off, text or json, got \"" + *v + "\"");
    }
    s.logging.access = *v;
  }
}

void validate(const settings& s) {
  if (s.listen.empty()) {
    throw config_error("/listen: needs at least one address");
  }
  for (const auto& text : s.listen) {
    parse_endpoint(text);
  }
  if (!is_log_level(s.logging.level)) {
    throw config_error("/logging/level: unknown level \"" + s.logging.level + "\"");
  }
  if (!s.cluster.user.empty() && s.cluster.password.empty()) {
    throw config_error(
        "/cluster/user: an ACL user needs its password (cluster.password, or "
        "EVALD_CLUSTER_PASSWORD)");
  }
  if (s.limits.max_header_bytes < 1024) {
    throw config_error("/limits/max_header_size: must be at least 1KiB");
  }
  if (s.cluster.heartbeat * 2 > s.cluster.lease) {
    throw config_error(
        "/cluster/heartbeat: must be at most half of /cluster/lease, so a live "
        "owner renews its lease in time");
  }
}

}  // namespace evald::config

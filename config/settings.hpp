#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

// Every setting with its default, written once here. config/evald.json documents
// the same keys; a unit test keeps the two in agreement.
namespace evald::config {

using duration = std::chrono::milliseconds;

struct limits_settings {
  std::uint32_t max_connections = 10'000;
  std::uint64_t max_header_bytes = 8 * 1024;   // request line + headers → 431
  std::uint64_t max_body_bytes = 1024 * 1024;  // → 413
  std::uint32_t max_requests_per_connection = 10'000;
  duration max_eval_time{30'000};           // cap on an evaluation's deadline → 504
  std::uint32_t max_evaluations = 256;      // evaluations in flight per worker → 503
  std::uint32_t max_batch_items = 100'000;  // items in one /eval batch → 413
  // The whole answer of a batch, map or Log Detector batch (and a launched job's
  // result) → 413 naming the item that crossed it.
  std::uint64_t max_response_bytes = 64 * 1024 * 1024;
};

struct timeouts_settings {
  duration header{10'000};       // first byte to end of headers → 408
  duration keep_alive{30'000};   // idle between requests → quiet close
  duration body{30'000};         // end of headers to end of body → 408
  duration write_stall{30'000};  // one write making no progress → drop
  duration shutdown{10'000};     // graceful drain before exit
  // On drain, an idle keep-alive connection may still send one request (it cannot
  // know we are stopping); it is answered with Connection: close. 0 = close at once.
  duration drain_idle{500};
  duration handshake{10'000};  // accept to the end of a TLS handshake → close
};

// A TLS listener's files (PEM). Several certificate/key pairs may serve at once (e.g.
// ECDSA and RSA): OpenSSL picks the one the client supports.
struct tls_certificate {
  std::string cert;  // the certificate chain, leaf first
  std::string key;
  bool operator==(const tls_certificate&) const = default;
};
struct tls_settings {
  std::vector<tls_certificate> certificates;
  std::string client_ca;  // non-empty: a client certificate signed by these CAs is required
  // With client_ca: a request without an API key acts as the tenant its certificate's
  // subject CN names, with these scopes (empty: a certificate names no tenant).
  std::vector<std::string> client_scopes;
  bool operator==(const tls_settings&) const = default;
};

struct eval_settings {
  // CPU time a compute task runs before it yields to its worker's other work.
  std::chrono::microseconds slice{250};
  // Work per chunk of a parallel job (chunk sizes come from this, not items ÷ workers).
  std::chrono::microseconds chunk_time{200};
  // Trial division tries divisors below this serially before fanning out.
  std::uint64_t trial_precheck = 262'144;
};

// User scripts (POST /eval with "workload":"script", named scripts). Each limit is
// also the cap on a request's own "limits" override.
struct scripts_settings {
  std::uint64_t memory = 16 * 1024 * 1024;  // a Lua state's allocations → 422 script_memory
  // Longest stretch past a slice where a script cannot yield (sort comparator, gsub
  // callback) → 422 script_error.
  std::chrono::microseconds burst{20'000};
  std::uint64_t max_source = 64 * 1024;    // source text → 413
  std::uint64_t max_result = 1024 * 1024;  // result as JSON → 413
  std::uint64_t max_log = 64 * 1024;       // emit() lines per evaluation (then dropped)
  std::uint32_t max_named = 1000;          // PUT /scripts/<name> entries → 507 past it
  // Keep compiled Lua states per worker between evaluations of the same source (each
  // run still gets a fresh environment); false = a new state for every evaluation.
  bool reuse_states = true;
  // CPU one Log Detector condition may use → 422 condition_timeout (the request's
  // deadline still applies on top).
  std::chrono::microseconds condition_time{100'000};
  // Compiled Log Detector conditions kept per worker, keyed by their text.
  std::uint32_t condition_cache = 1024;
};

struct http_settings {
  // Cache-Control of the answers that are pure functions of their request (/prime,
  // /factor, /chargen?bytes=N); they also carry a strong ETag. Empty = no header.
  std::string cache_control = "public, max-age=86400";
};

struct chargen_settings {
  std::uint64_t max_bytes = 1024ULL * 1024 * 1024;  // cap for one HTTP stream
  std::vector<std::string> tcp_listen;              // raw RFC 864 listeners, off when empty
};

struct jobs_settings {
  std::uint32_t max = 10'000;  // jobs kept (queued, running and finished) → 503 past it
  duration ttl{600'000};       // finished jobs are forgotten this long after they end
  // Bytes of results kept by the finished jobs together: a result that would pass it
  // fails its job with 413, and launches get 503 while the store is at it.
  std::uint64_t max_result_bytes = 256 * 1024 * 1024;
};

// Cluster mode: launched jobs in Redis, run and answered by any node (README "Cluster").
// An empty `redis` keeps jobs in this process's memory (the embedded default).
struct cluster_settings {
  std::string redis;              // "redis://IP:PORT", "redis://[IPv6]:PORT" or "unix:/path"
  std::string user;               // ACL user for AUTH user password; empty = the default user
  std::string password;           // AUTH after connecting; empty = none
  std::string prefix = "evald:";  // of every key evald writes
  std::string node_id;            // empty = "<host name>-<pid>"
  duration lease{15'000};     // a job whose owner has not renewed it this long is claimed elsewhere
  duration heartbeat{1'000};  // how often a running job renews its lease and reads DELETE
  std::uint32_t max_deliveries = 5;   // a job delivered more often ends failed
  std::uint32_t jobs_per_worker = 1;  // cluster jobs one worker runs at once
  duration command_timeout{2'000};    // a Redis command unanswered this long drops the link
  // One big job across nodes: a launched trial division estimated above split_time on
  // one core is queued as parts of about part_time each; a script map of more than
  // map_part_inputs inputs as parts of that many. split_time 0 = never split.
  duration split_time{2'000};
  duration part_time{250};
  std::uint32_t map_part_inputs = 64;
};

// The live dashboard at / with /stats and /stats/stream (README "Dashboard").
struct dashboard_settings {
  bool enabled = true;             // off: /, /stats and /stats/stream answer 404
  std::uint32_t max_streams = 32;  // /stats/stream subscribers at once → 503 past it
};

struct logging_settings {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // server log file; empty = stderr (the journal under systemd)
  std::string access = "off";  // access log: off, text or json (one JSON object per line)
  std::string access_file;     // empty = stdout
};

// Who may ask (README "Security"): API keys in a keys file, and what a client without a
// key may do. Without a keys file every client is the one tenant "anonymous" with
// every scope, which evald allows only when each listener is loopback or a unix socket
// (or `anonymous` says so explicitly).
struct auth_settings {
  std::string keys_file;               // JSON, `evald keys new` prints its entries
  std::vector<std::string> anonymous;  // scopes of a client without a key
  bool anonymous_set = false;          // `anonymous` was given (even empty)
};

// What one tenant may use (README "Security", docs/security.md). `tenants.default` in
// the config; the keys file's "tenants" overrides it per tenant. 0 = no limit.
struct tenant_limits {
  double weight = 1;                   // its share of every worker's compute under contention
  double requests_per_second = 0;      // sustained rate of requests to routes that need a key
  double request_burst = 0;            // requests above the rate at once; 0 = one second's worth
  double compute_per_second = 0;       // CPU seconds per second its evaluations may use
  double compute_burst = 0;            // CPU seconds of debt before 429; 0 = one second's worth
  std::uint32_t max_jobs = 0;          // launched jobs queued or running at once (0 = no cap)
  std::uint32_t max_scripts = 0;       // named scripts in its namespace (0 = no cap)
  std::uint64_t max_script_bytes = 0;  // bytes of source in its namespace (0 = no cap)
  bool operator==(const tenant_limits&) const = default;
};

struct tenants_settings {
  // "fair": compute slices served by tenant weight (virtual time); "fifo": in arrival
  // order, whoever sent them (the behaviour before tenants, kept for comparison).
  bool fair = true;
  tenant_limits defaults;
};

struct settings {
  std::vector<std::string> listen{"127.0.0.1:8080"};
  // The TLS listeners among `listen`, by index (a socket-activated one named "https"
  // uses the first of them).
  std::map<std::size_t, tls_settings> listen_tls;
  std::uint32_t threads = 0;  // 0 = one worker per core
  limits_settings limits;
  timeouts_settings timeouts;
  eval_settings eval;
  http_settings http;
  scripts_settings scripts;
  chargen_settings chargen;
  jobs_settings jobs;
  cluster_settings cluster;
  dashboard_settings dashboard;
  logging_settings logging;
  auth_settings auth;
  tenants_settings tenants;
};

}  // namespace evald::config

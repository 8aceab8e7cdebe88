#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "handlers/request/script_catalog.hpp"
#include "server/net.hpp"

namespace evald {

struct eval_request;

// Named scripts. One instance per worker, called on that worker's thread only; every
// call is an awaitable of the worker (the memory store completes without suspending).
// A store that cannot reach its engine throws store_unavailable (503).
class script_store {
 public:
  enum class write_result {
    created,
    replaced,
    deleted,
    absent,
    full,        // scripts.max_named, server-wide
    over_count,  // the namespace's max_scripts
    over_bytes,  // the namespace's max_script_bytes
    precondition_failed,
  };
  // A namespace's caps (its tenant's max_scripts and max_script_bytes; 0 = none).
  struct quota {
    std::uint64_t max_count = 0;
    std::uint64_t max_bytes = 0;
  };
  // Judged against the stored entry (null: none) in the same step as the write, so of
  // N concurrent "create only" PUTs exactly one wins. False: precondition_failed.
  using condition = std::function<bool(const script_entry* current)>;

  virtual ~script_store() = default;
  // The scripts as they are now; a write on this node is seen by its next call.
  virtual net::awaitable<std::shared_ptr<const script_catalog>> current() = 0;
  // Stores `source` under `key` ("<namespace>/<name>"; nullopt: deletes it) if `when`
  // holds; at most scripts.max_named scripts (else full) and, in the key's namespace,
  // `caps` (else over_count / over_bytes).
  virtual net::awaitable<write_result> write(const std::string& key,
                                             std::optional<std::string> source,
                                             const condition& when, quota caps) = 0;
};

// Binds the named scripts `er` uses (if any) to their sources now, with one call, as
// `tenant` calls them.
net::awaitable<void> resolve_named_scripts(eval_request& er, script_store& scripts,
                                           std::string tenant);

// "script <name>\n<source>" hashed: the ETag every backend gives the same script.
std::string script_etag(std::string_view name, std::string_view source);

}  // namespace evald

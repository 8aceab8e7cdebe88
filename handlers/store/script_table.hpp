#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "handlers/store/script_store.hpp"

namespace evald {

// The named scripts of one process: the memory backend's store, and the Redis
// backend's mirror of what Redis holds. Any thread; a reader gets an immutable
// catalog (one lock and a reference count), a write publishes a new one.
class script_table {
 public:
  std::shared_ptr<const script_catalog> snapshot() const;
  script_store::write_result write(const std::string& key, std::optional<std::string> source,
                                   const script_store::condition& when, std::uint32_t max,
                                   script_store::quota caps = {});

  // The Redis mirror: replaces every entry with `sources` (name → source) if they
  // belong to another data set (`generation`: Redis lost its data since) or to a newer
  // `version` of this one; returns whether it did.
  bool replace_all(const std::string& generation, std::int64_t version,
                   const std::map<std::string, std::string>& sources);
  std::pair<std::string, std::int64_t> version() const;  // (generation, version)

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const script_catalog> catalog_ = std::make_shared<const script_catalog>();
  std::string generation_;
  std::int64_t version_ = -1;
};

}  // namespace evald

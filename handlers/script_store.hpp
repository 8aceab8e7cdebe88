#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evald {

// Named scripts (PUT /scripts/<name>), like Redis SCRIPT LOAD: an interface so a
// cluster store can replace the in-memory one without touching the handlers.
// Every method may be called from any worker.
class script_store {
 public:
  struct entry {
    std::string name;
    std::shared_ptr<const std::string> source;  // shared with evaluations that run it
    std::string etag;                           // strong, of the name and source
    std::chrono::system_clock::time_point updated;
  };
  enum class put_result { created, replaced, full, precondition_failed };
  // Judged against the stored entry (null: none) in the same step as the write, so
  // of N concurrent "create only" PUTs exactly one wins. False: precondition_failed.
  using condition = std::function<bool(const entry* current)>;
  enum class remove_result { removed, absent, precondition_failed };

  virtual ~script_store() = default;
  virtual put_result put(const std::string& name, std::string source,
                         const condition& when = {}) = 0;
  virtual std::optional<entry> get(std::string_view name) const = 0;
  virtual remove_result remove(std::string_view name, const condition& when = {}) = 0;
  virtual std::vector<entry> list() const = 0;  // by name
};

// [A-Za-z0-9_.-]{1,64}, but not "." or ".." (they are path segments, not names)
bool valid_script_name(std::string_view name) noexcept;

// The embedded default: a map under a mutex, at most `max` entries.
class memory_script_store final : public script_store {
 public:
  explicit memory_script_store(std::uint32_t max) : max_(max) {}
  put_result put(const std::string& name, std::string source, const condition& when = {}) override;
  std::optional<entry> get(std::string_view name) const override;
  remove_result remove(std::string_view name, const condition& when = {}) override;
  std::vector<entry> list() const override;

  // Cluster mode: this store mirrors Redis. Replaces every entry with `sources`
  // (name → source) if `version` is newer than the mirror's; returns whether it did.
  bool replace_all(std::int64_t version, const std::map<std::string, std::string>& sources);
  std::int64_t version() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, entry, std::less<>> entries_;
  std::uint32_t max_;
  std::int64_t version_ = -1;
};

}  // namespace evald

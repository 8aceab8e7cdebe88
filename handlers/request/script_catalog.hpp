#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace evald {

// Named scripts live in namespaces: each tenant's own, and "shared" (readable by every
// tenant, written with `admin`). A script's key in every store is "<namespace>/<name>";
// a name in a request resolves to the caller's own script first, then the shared one.
inline constexpr std::string_view shared_scripts = "shared";
std::string script_key(std::string_view ns, std::string_view name);
std::string_view script_namespace(std::string_view key) noexcept;   // before the '/'
std::string_view script_short_name(std::string_view key) noexcept;  // after it

// One named script (PUT /scripts/<name>), like Redis SCRIPT LOAD.
struct script_entry {
  std::string name;                           // its key: "<namespace>/<name>"
  std::shared_ptr<const std::string> source;  // shared with evaluations that run it
  std::string etag;                           // strong, of the name and source
  std::chrono::system_clock::time_point updated;
};

// Every named script at one moment; never changes once published (a write makes a
// new catalog), so a request reads one consistent set without a lock.
struct script_catalog {
  std::map<std::string, script_entry, std::less<>> entries;  // by name

  const script_entry* find(std::string_view key) const {
    const auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  }
  // `name` as `tenant` calls it: its own script, else the shared one.
  const script_entry* resolve(std::string_view tenant, std::string_view name) const {
    const script_entry* own = find(script_key(tenant, name));
    return own != nullptr ? own : find(script_key(shared_scripts, name));
  }
  // Scripts in namespace `ns` and their bytes of source, leaving out `except` (a key).
  std::pair<std::uint64_t, std::uint64_t> usage(std::string_view ns,
                                                std::string_view except = {}) const;
};

// [A-Za-z0-9_.-]{1,64}, but not "." or ".." (they are path segments, not names)
bool valid_script_name(std::string_view name) noexcept;

}  // namespace evald

#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace evald {

// One named script (PUT /scripts/<name>), like Redis SCRIPT LOAD.
struct script_entry {
  std::string name;
  std::shared_ptr<const std::string> source;  // shared with evaluations that run it
  std::string etag;                           // strong, of the name and source
  std::chrono::system_clock::time_point updated;
};

// Every named script at one moment; never changes once published (a write makes a
// new catalog), so a request reads one consistent set without a lock.
struct script_catalog {
  std::map<std::string, script_entry, std::less<>> entries;  // by name

  const script_entry* find(std::string_view name) const {
    const auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
  }
};

// [A-Za-z0-9_.-]{1,64}, but not "." or ".." (they are path segments, not names)
bool valid_script_name(std::string_view name) noexcept;

}  // namespace evald

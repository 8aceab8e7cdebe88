#include "handlers/script_store.hpp"

#include "server/preconditions.hpp"

namespace evald {

bool valid_script_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

script_store::put_result memory_script_store::put(const std::string& name, std::string source,
                                                  const condition& when) {
  entry e{name, nullptr, strong_etag("script " + name + '\n' + source),
          std::chrono::system_clock::now()};
  e.source = std::make_shared<const std::string>(std::move(source));
  const std::lock_guard lock(mutex_);
  const auto it = entries_.find(name);
  if (when && !when(it == entries_.end() ? nullptr : &it->second)) {
    return put_result::precondition_failed;
  }
  if (it != entries_.end()) {
    it->second = std::move(e);
    return put_result::replaced;
  }
  if (entries_.size() >= max_) {
    return put_result::full;
  }
  entries_.emplace(name, std::move(e));
  return put_result::created;
}

std::optional<script_store::entry> memory_script_store::get(std::string_view name) const {
  const std::lock_guard lock(mutex_);
  const auto it = entries_.find(name);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return it->second;
}

script_store::remove_result memory_script_store::remove(std::string_view name,
                                                        const condition& when) {
  const std::lock_guard lock(mutex_);
  const auto it = entries_.find(name);
  if (when && !when(it == entries_.end() ? nullptr : &it->second)) {
    return remove_result::precondition_failed;
  }
  if (it == entries_.end()) {
    return remove_result::absent;
  }
  entries_.erase(it);
  return remove_result::removed;
}

bool memory_script_store::replace_all(std::int64_t version,
                                      const std::map<std::string, std::string>& sources) {
  std::map<std::string, entry, std::less<>> fresh;
  for (const auto& [name, source] : sources) {
    fresh.emplace(name, entry{name, std::make_shared<const std::string>(source),
                              strong_etag("script " + name + '\n' + source),
                              std::chrono::system_clock::now()});
  }
  const std::lock_guard lock(mutex_);
  if (version <= version_) {
    return false;  // another worker applied this version or a newer one
  }
  for (auto& [name, e] : fresh) {
    if (const auto it = entries_.find(name);
        it != entries_.end() && *it->second.source == *e.source) {
      e.updated = it->second.updated;  // unchanged: keep its time
    }
  }
  entries_ = std::move(fresh);
  version_ = version;
  return true;
}

std::int64_t memory_script_store::version() const {
  const std::lock_guard lock(mutex_);
  return version_;
}

std::vector<script_store::entry> memory_script_store::list() const {
  const std::lock_guard lock(mutex_);
  std::vector<entry> out;
  out.reserve(entries_.size());
  for (const auto& [_, e] : entries_) {
    out.push_back(e);
  }
  return out;
}

}  // namespace evald

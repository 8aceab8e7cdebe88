#include "handlers/store/script_table.hpp"

#include "server/preconditions.hpp"

namespace evald {

std::string script_etag(std::string_view name, std::string_view source) {
  std::string key = "script ";
  key += name;
  key += '\n';
  key += source;
  return strong_etag(key);
}

std::shared_ptr<const script_catalog> script_table::snapshot() const {
  const std::lock_guard lock(mutex_);
  return catalog_;
}

script_store::write_result script_table::write(const std::string& name,
                                               std::optional<std::string> source,
                                               const script_store::condition& when,
                                               std::uint32_t max, script_store::quota caps) {
  using result = script_store::write_result;
  std::optional<script_entry> fresh;
  if (source) {
    fresh =
        script_entry{name, nullptr, script_etag(name, *source), std::chrono::system_clock::now()};
    fresh->source = std::make_shared<const std::string>(std::move(*source));
  }
  const std::lock_guard lock(mutex_);
  const script_entry* current = catalog_->find(name);
  if (when && !when(current)) {
    return result::precondition_failed;
  }
  if (!fresh && current == nullptr) {
    return result::absent;
  }
  if (fresh && current == nullptr && catalog_->entries.size() >= max) {
    return result::full;
  }
  if (fresh && (caps.max_count != 0 || caps.max_bytes != 0)) {
    const auto [count, bytes] = catalog_->usage(script_namespace(name), name);
    if (caps.max_count != 0 && current == nullptr && count >= caps.max_count) {
      return result::over_count;
    }
    if (caps.max_bytes != 0 && bytes + fresh->source->size() > caps.max_bytes) {
      return result::over_bytes;
    }
  }
  // Copy on write: readers keep the catalog they hold.
  auto next = std::make_shared<script_catalog>(*catalog_);
  const bool existed = current != nullptr;
  if (fresh) {
    next->entries.insert_or_assign(name, std::move(*fresh));
  } else {
    next->entries.erase(name);
  }
  catalog_ = std::move(next);
  return !fresh ? result::deleted : existed ? result::replaced : result::created;
}

bool script_table::replace_all(const std::string& generation, std::int64_t version,
                               const std::map<std::string, std::string>& sources) {
  auto fresh = std::make_shared<script_catalog>();
  for (const auto& [name, source] : sources) {
    fresh->entries.emplace(
        name, script_entry{name, std::make_shared<const std::string>(source),
                           script_etag(name, source), std::chrono::system_clock::now()});
  }
  const std::lock_guard lock(mutex_);
  if (generation == generation_ && version <= version_) {
    return false;  // another worker applied this version or a newer one
  }
  for (auto& [name, e] : fresh->entries) {
    if (const script_entry* old = catalog_->find(name);
        old != nullptr && *old->source == *e.source) {
      e.updated = old->updated;  // unchanged: keep its time
    }
  }
  catalog_ = std::move(fresh);
  generation_ = generation;
  version_ = version;
  return true;
}

std::pair<std::string, std::int64_t> script_table::version() const {
  const std::lock_guard lock(mutex_);
  return {generation_, version_};
}

}  // namespace evald

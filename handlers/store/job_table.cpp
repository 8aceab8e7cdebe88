#include "handlers/store/job_table.hpp"

#include "handlers/store/store_errors.hpp"
#include "server/platform.hpp"

#include <algorithm>
#include <stdexcept>

namespace evald {

std::string random_job_id() {
  unsigned char bytes[16];
  platform::fill_random(bytes, sizeof bytes);
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 15]);
  }
  return id;
}

const char* job_table::name(state s) {
  switch (s) {
    case state::queued:
      return "queued";
    case state::running:
      return "running";
    case state::done:
      return "done";
    case state::failed:
      return "failed";
    case state::cancelled:
      return "cancelled";
    case state::expired:
      return "expired";
  }
  return "unknown";
}

void job_table::forget_locked(std::map<std::string, record>::iterator it) {
  result_bytes_ -= it->second.info.result.size() + it->second.fingerprint.size();
  if (!it->second.idempotency_key.empty()) {
    keyed_.erase(it->second.idempotency_key);
  }
  jobs_.erase(it);
}

void job_table::purge_locked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const auto next = std::next(it);
    if (it->second.forget_at <= now) {
      forget_locked(it);
    }
    it = next;
  }
}

job_table::snapshot job_table::view_locked(const record& r) const {
  snapshot s = r.info;
  if (s.status == state::running && r.job) {
    s.progress = r.job->progress();
  }
  return s;
}

std::optional<std::string> job_table::create(const std::string& tenant) {
  auto made = create({}, {}, tenant);
  return made ? std::optional<std::string>(std::move(made->id)) : std::nullopt;
}

std::optional<job_table::created> job_table::create(const std::string& key, std::string fingerprint,
                                                    const std::string& tenant,
                                                    std::uint32_t max_active) {
  std::lock_guard lock(mutex_);
  purge_locked();
  // Keys are per tenant: another tenant's key neither replays nor reveals a job.
  const std::string keyed = key.empty() ? std::string() : tenant + '\n' + key;
  if (const auto k = keyed.empty() ? keyed_.end() : keyed_.find(keyed); k != keyed_.end()) {
    const record& r = jobs_.at(k->second);
    if (r.fingerprint != fingerprint) {
      throw idempotency_key_reused();
    }
    return created{r.info.id, true, r.info.status};  // a replay is no new job: no quota
  }
  const bool no_room = keyed.empty() ? result_bytes_ >= max_result_bytes_
                                     : result_bytes_ + fingerprint.size() > max_result_bytes_;
  if (jobs_.size() >= max_ || no_room) {
    return std::nullopt;
  }
  if (max_active != 0) {
    // Jobs are few (jobs.max) and launches rare: counting beats keeping a counter in
    // step with every way a job ends.
    std::uint32_t active = 0;
    for (const auto& [id, r] : jobs_) {
      active += r.info.tenant == tenant &&
                (r.info.status == state::queued || r.info.status == state::running);
    }
    if (active >= max_active) {
      throw tenant_jobs_quota(tenant, max_active);
    }
  }
  std::string id = random_job_id();
  record r;
  r.info.id = id;
  r.info.tenant = tenant;
  r.info.submitted = std::chrono::system_clock::now();
  r.sequence = ++sequence_;
  if (!keyed.empty()) {
    r.idempotency_key = keyed;
    result_bytes_ += fingerprint.size();
    r.fingerprint = std::move(fingerprint);
    keyed_.emplace(keyed, id);
  }
  jobs_.emplace(id, std::move(r));
  return created{id};
}

bool job_table::start(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.info.status != state::queued) {
    return false;
  }
  it->second.info.status = state::running;
  it->second.info.started = std::chrono::system_clock::now();
  return true;
}

void job_table::set_job(const std::string& id, std::shared_ptr<parallel_job> job) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return;
  }
  it->second.job = std::move(job);
  if (it->second.info.status == state::cancelled) {
    it->second.job->request_stop();
  }
}

void job_table::finish(const std::string& id, state final_state, std::string result) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return;
  }
  record& r = it->second;
  if (r.info.status != state::cancelled) {
    if (result_bytes_ + result.size() > max_result_bytes_) {
      // Kept for the whole TTL, results of any size added up without a bound before.
      final_state = state::failed;
      result = R"({"error":{"status":413,"code":"result_too_large","message":"the result is )" +
               std::to_string(result.size()) +
               R"( bytes and the job store keeps at most jobs.max_results_size ()" +
               std::to_string(max_result_bytes_) +
               R"( bytes) of results: fetch and DELETE finished jobs, or raise it"}})";
    }
    r.info.status = final_state;
    r.info.result = std::move(result);
    result_bytes_ += r.info.result.size();
  }
  r.info.progress = final_state == state::done ? 1.0 : (r.job ? r.job->progress() : 0.0);
  r.info.finished = std::chrono::system_clock::now();
  r.job.reset();
  r.forget_at = std::chrono::steady_clock::now() + ttl_;
}

std::optional<job_table::snapshot> job_table::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  purge_locked();
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  if (it->second.info.status != state::queued && it->second.info.status != state::running) {
    // Finished: removed, its result freed now (a GET then answers 404).
    snapshot last = view_locked(it->second);
    forget_locked(it);
    return last;
  }
  cancel_locked(it->second);
  return view_locked(it->second);
}

std::uint64_t job_table::result_bytes() {
  std::lock_guard lock(mutex_);
  return result_bytes_;
}

std::vector<std::string> job_table::cancel_all() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (auto& [id, r] : jobs_) {
    if (r.info.status == state::queued || r.info.status == state::running) {
      cancel_locked(r);
      ids.push_back(id);
    }
  }
  return ids;
}

void job_table::cancel_locked(record& r) {
  if (r.info.status == state::queued || r.info.status == state::running) {
    r.info.status = state::cancelled;
    if (r.job) {
      r.job->request_stop();
      r.info.progress = r.job->progress();
    }
    if (!r.info.started) {
      r.info.finished = std::chrono::system_clock::now();
      r.forget_at = std::chrono::steady_clock::now() + ttl_;
    }
  }
}

std::optional<job_table::snapshot> job_table::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  purge_locked();
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  return view_locked(it->second);
}

std::vector<job_table::snapshot> job_table::newest(std::size_t limit, const std::string& tenant) {
  std::lock_guard lock(mutex_);
  purge_locked();
  std::vector<const record*> all;
  for (const auto& [_, r] : jobs_) {
    if (tenant.empty() || r.info.tenant == tenant) {
      all.push_back(&r);
    }
  }
  std::sort(all.begin(), all.end(),
            [](const record* a, const record* b) { return a->sequence > b->sequence; });
  std::vector<snapshot> out;
  for (std::size_t i = 0; i < all.size() && i < limit; ++i) {
    out.push_back(view_locked(*all[i]));
  }
  return out;
}

std::array<std::uint64_t, job_table::state_count> job_table::count_by_state() {
  std::lock_guard lock(mutex_);
  purge_locked();
  std::array<std::uint64_t, state_count> counts{};
  for (const auto& [_, r] : jobs_) {
    ++counts[static_cast<std::size_t>(r.info.status)];
  }
  return counts;
}

}  // namespace evald

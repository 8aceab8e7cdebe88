#include "server/compute_scheduler.hpp"

#include <algorithm>

#include "server/tenant.hpp"

namespace evald {

void compute_scheduler::enqueue(tenant_account* tenant, slice s) {
  auto& g = groups_[fair_ ? tenant : nullptr];
  if (!g) {
    g = std::make_unique<group>();
    g->vtime = vnow_;
  }
  g->tenant = fair_ ? tenant : nullptr;
  if (g->items.empty()) {
    // Waking up: no credit for the time it was idle.
    g->vtime = std::max(g->vtime, vnow_);
    active_.push_back(g.get());
  }
  g->items.push_back({tenant, std::move(s)});
  ++size_;
  if (tenant != nullptr) {
    tenant->queued_slices.fetch_add(1, std::memory_order_relaxed);
  }
}

void compute_scheduler::run_one() {
  if (active_.empty()) {
    return;
  }
  auto next = active_.begin();
  for (auto it = std::next(active_.begin()); it != active_.end(); ++it) {
    if ((*it)->vtime < (*next)->vtime) {
      next = it;
    }
  }
  group& g = **next;
  vnow_ = std::max(vnow_, g.vtime);
  item it = std::move(g.items.front());
  g.items.pop_front();
  std::chrono::nanoseconds cpu{0};
  const auto start = std::chrono::steady_clock::now();
  const bool more = it.run(cpu);
  if (cpu.count() <= 0) {
    cpu = std::chrono::steady_clock::now() - start;
  }
  if (it.tenant != nullptr) {
    it.tenant->charge_compute(cpu, worker_);
  }
  const double weight = g.tenant != nullptr ? std::max(g.tenant->weight(), 0.01) : 1.0;
  g.vtime += static_cast<double>(cpu.count()) / weight;
  // The slice ran arbitrary code: `next` may be stale if it enqueued; find g again.
  if (more) {
    g.items.push_back(std::move(it));
  } else {
    --size_;
    if (it.tenant != nullptr) {
      it.tenant->queued_slices.fetch_sub(1, std::memory_order_relaxed);
    }
    if (g.items.empty()) {
      active_.erase(std::find(active_.begin(), active_.end(), &g));
    }
  }
}

double compute_scheduler::virtual_time(tenant_account* tenant) const {
  const auto it = groups_.find(fair_ ? tenant : nullptr);
  return it == groups_.end() ? 0 : it->second->vtime;
}

}  // namespace evald

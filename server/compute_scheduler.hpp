#pragma once
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace evald {

class tenant_account;

// The compute queue of one worker: items that each run one bounded slice per turn
// and say whether they want another. "fair": items are grouped by tenant and the
// group with the lowest virtual time runs next, its virtual time advanced by the
// slice's CPU time divided by the tenant's weight; a group that wakes up starts at the
// virtual time of the work in progress, so idle time banks no credit, and a lone
// tenant gets every slice (work-conserving). Round-robin within a group. "fifo": one
// group, round-robin over every item (the order before tenants). Plain code, one
// thread (the worker's). Each slice's CPU time is charged to its tenant's account (its
// compute quota, and its share of this worker on the dashboard and /metrics).
class compute_scheduler {
 public:
  // A slice sets `cpu` to the CPU time it used (0: the scheduler charges its wall time).
  using slice = std::function<bool(std::chrono::nanoseconds& cpu)>;

  // `worker`: the index CPU time is counted under in each tenant's account.
  explicit compute_scheduler(bool fair, std::size_t worker = 0) : fair_(fair), worker_(worker) {}

  // `tenant` (nullptr: the server's own work) must outlive the item.
  void enqueue(tenant_account* tenant, slice s);
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  // Runs one slice of the group that is furthest behind its share.
  void run_one();

  // Virtual time of a tenant's group (tests): nanoseconds of CPU per unit of weight.
  double virtual_time(tenant_account* tenant) const;

 private:
  struct item {
    tenant_account* tenant;
    slice run;
  };
  struct group {
    tenant_account* tenant = nullptr;  // nullptr: the server's own work, or every item (fifo)
    std::deque<item> items;
    double vtime = 0;
  };

  bool fair_;
  std::size_t worker_;
  std::size_t size_ = 0;
  double vnow_ = 0;  // virtual time of the group served last
  std::unordered_map<tenant_account*, std::unique_ptr<group>> groups_;
  std::vector<group*> active_;  // groups with items, in the order they woke up
};

}  // namespace evald

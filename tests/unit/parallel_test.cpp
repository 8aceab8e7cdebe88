// The parallel scheduling layer on real workers (threads + io_contexts), no HTTP.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "config/settings.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/exec/parallel_trial.hpp"
#include "handlers/kernels/trial_division.hpp"
#include "server/parallel.hpp"
#include "server/worker.hpp"

using namespace evald;
using namespace std::chrono_literals;

namespace {

// W real workers; worker 0's loop runs the test coroutine, the others run threads.
class pool {
 public:
  explicit pool(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<worker>(i, open_, 50ms));
    }
    std::vector<worker*> all;
    for (auto& w : workers_) {
      all.push_back(w.get());
    }
    for (auto& w : workers_) {
      w->set_peers(all);
    }
  }
  ~pool() {
    for (auto& w : workers_) {
      w->stop();
    }
    for (auto& w : workers_) {
      w->join();
    }
  }
  // Runs `body` as a coroutine on worker 0 and returns when it has finished.
  void run(std::function<net::awaitable<void>(worker&)> body) {
    for (std::size_t i = 1; i < workers_.size(); ++i) {
      workers_[i]->start_thread();
    }
    worker& w0 = *workers_[0];
    std::exception_ptr failure;
    net::co_spawn(w0.context(), body(w0), [&](std::exception_ptr e) {
      failure = e;
      for (auto& w : workers_) {
        w->stop();
      }
    });
    w0.run();
    for (auto& w : workers_) {
      w->join();
    }
    if (failure) {
      std::rethrow_exception(failure);
    }
  }

 private:
  std::atomic<std::uint32_t> open_{0};
  std::vector<std::unique_ptr<worker>> workers_;
};

}  // namespace

TEST(ParallelJob, EveryChunkIsClaimedExactlyOnce) {
  for (std::size_t w : {1U, 2U, 4U}) {
    pool p(w);
    constexpr std::uint64_t chunks = 50'000;
    auto hits = std::make_shared<std::vector<std::atomic<int>>>(chunks);
    std::shared_ptr<parallel_job> job;
    p.run([&](worker& w0) -> net::awaitable<void> {
      job = make_parallel_job(
          chunks,
          [hits](std::uint64_t c, parallel_job&, std::chrono::steady_clock::time_point) {
            (*hits)[c].fetch_add(1, std::memory_order_relaxed);
            return true;
          },
          50us);  // short slices: many yields and re-posts on every worker
      co_await job->run(w0.peers());
    });
    for (std::uint64_t c = 0; c < chunks; ++c) {
      ASSERT_EQ((*hits)[c].load(), 1) << "chunk " << c << " with " << w << " workers";
    }
    EXPECT_EQ(job->chunks_done(), chunks);
    EXPECT_EQ(job->progress(), 1.0);
    EXPECT_EQ(job->tasks(), w);
  }
}

TEST(ParallelJob, StopFlagEndsTheJobEarly) {
  pool p(2);
  std::shared_ptr<parallel_job> job;
  p.run([&](worker& w0) -> net::awaitable<void> {
    job = make_parallel_job(
        1'000'000,
        [](std::uint64_t c, parallel_job& j, std::chrono::steady_clock::time_point) {
          if (c == 1000) {
            j.request_stop();
          }
          return true;
        },
        500us);
    co_await job->run(w0.peers());
  });
  EXPECT_TRUE(job->stop_requested());
  EXPECT_LT(job->chunks_done(), 100'000U);
  EXPECT_GT(job->progress(), 0.0);
  EXPECT_LT(job->progress(), 0.1);
}

TEST(ParallelJob, LowerLimitSkipsOnlyChunksAbove) {
  pool p(3);
  auto ran = std::make_shared<std::vector<std::atomic<int>>>(10'000);
  p.run([&](worker& w0) -> net::awaitable<void> {
    auto job = make_parallel_job(
        10'000,
        [ran](std::uint64_t c, parallel_job& j, std::chrono::steady_clock::time_point) {
          (*ran)[c] = 1;
          if (c == 500) {
            j.lower_limit(501);
          }
          return true;
        },
        100us);
    co_await job->run(w0.peers());
  });
  for (int c = 0; c <= 500; ++c) {
    ASSERT_EQ((*ran)[c].load(), 1) << "chunk " << c << " below the hit must run";
  }
}

TEST(ParallelJob, ResumableChunksContinueWhereTheyStopped) {
  pool p(2);
  auto progress = std::make_shared<std::vector<int>>(8, 0);
  p.run([&](worker& w0) -> net::awaitable<void> {
    auto job = make_parallel_job(
        8,
        [progress](std::uint64_t c, parallel_job&, std::chrono::steady_clock::time_point) {
          return ++(*progress)[c] == 5;  // needs five calls to finish
        },
        500us);
    co_await job->run(w0.peers());
    EXPECT_EQ(job->chunks_done(), 8U);
  });
  for (int v : *progress) {
    EXPECT_EQ(v, 5);
  }
}

TEST(ParallelTrial, SmallestFactorForEveryWorkerCountAndChunkSize) {
  const std::uint64_t numbers[] = {100109100129100369ULL, 100109100129101027ULL,
                                   1000003ULL * 1000033ULL, 999983ULL * 999983ULL,
                                   100109100129100151ULL};
  for (std::size_t w : {1U, 2U, 3U}) {
    for (auto chunk_time : {10us, 250us}) {
      config::settings settings;
      settings.eval.chunk_time = chunk_time;
      settings.eval.trial_precheck = 1000;
      pool p(w);
      std::vector<trial_outcome> got;
      p.run([&](worker& w0) -> net::awaitable<void> {
        for (std::uint64_t n : numbers) {
          evaluation ev(w0, settings, std::nullopt);
          got.push_back(co_await parallel_trial_division(ev, settings, n));
        }
      });
      for (std::size_t i = 0; i < got.size(); ++i) {
        kernels::trial_division serial(numbers[i]);
        while (!serial.step(1 << 20)) {
        }
        EXPECT_EQ(got[i].factor, serial.smallest_factor()) << numbers[i] << " W=" << w;
        EXPECT_EQ(got[i].workers, w);
        EXPECT_EQ(got[i].prime, serial.is_prime());
      }
    }
  }
}

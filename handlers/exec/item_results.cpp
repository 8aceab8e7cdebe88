#include "handlers/exec/item_results.hpp"
#include "handlers/json/error_json.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "handlers/exec/parallel_trial.hpp"
#include "handlers/kernels/factor.hpp"
#include "handlers/kernels/primality.hpp"
#include "handlers/request/detector_request.hpp"

namespace evald {

using json = nlohmann::json;

void append_u64_json(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.push_back('"');
  out.append(buf, end);
  out.push_back('"');
}

void append_prime_json(std::string& out, std::uint64_t n, bool is_prime) {
  out.append(R"({"n":)");
  append_u64_json(out, n);
  out.append(is_prime ? R"(,"prime":true)" : R"(,"prime":false)");
  out.append(R"(,"method":"miller-rabin"})");
}

void append_trial_json(std::string& out, std::uint64_t n, const trial_outcome& t) {
  out.append(R"({"n":)");
  append_u64_json(out, n);
  out.append(t.prime ? R"(,"prime":true)" : R"(,"prime":false)");
  out.append(R"(,"method":"trial","factor":)");
  if (t.factor != 0) {
    append_u64_json(out, t.factor);
  } else {
    out.append("null");
  }
  out.append(R"(,"divisors_checked":)");
  append_u64_json(out, t.divisors_checked);
  out.append(R"(,"workers":)").append(std::to_string(t.workers));
  out.append(R"(,"chunks":)").append(std::to_string(t.chunks)).push_back('}');
}

void append_factor_json(std::string& out, std::uint64_t n,
                        const std::vector<std::uint64_t>& factors) {
  out.append(R"({"n":)");
  append_u64_json(out, n);
  out.append(R"(,"factors":[)");
  for (std::size_t i = 0; i < factors.size(); ++i) {
    if (i != 0) {
      out.push_back(',');
    }
    append_u64_json(out, factors[i]);
  }
  out.append(factors.size() == 1 ? R"(],"prime":true})" : R"(],"prime":false})");
}

std::string compute_eval_item(const eval_item& item) {
  switch (item.what) {
    case eval_item::kind::prime_mr: {
      std::string out;
      append_prime_json(out, item.n, kernels::is_prime_u64(item.n));
      return out;
    }
    case eval_item::kind::factor: {
      std::string out;
      append_factor_json(out, item.n, kernels::factor_u64(item.n));
      return out;
    }
    case eval_item::kind::prime_trial: {
      kernels::trial_division t(item.n);
      while (!t.step(1 << 20)) {
      }
      return trial_item_json(item.n, t);
    }
    case eval_item::kind::script:  // run in slices by script_runner, never here
    case eval_item::kind::record:  // run in slices by rule_runner, never here
    case eval_item::kind::invalid:
      break;
  }
  return error_json(*item.failure);
}

std::string trial_item_json(std::uint64_t n, const kernels::trial_division& t) {
  trial_outcome out;
  out.factor = t.smallest_factor();
  out.prime = t.is_prime();
  out.divisors_checked = t.divisors_checked();
  out.workers = 1;
  std::string text;
  append_trial_json(text, n, out);
  return text;
}

double estimate_eval_item_ns(const eval_item& item, double trial_ns_per_candidate) {
  switch (item.what) {
    case eval_item::kind::prime_mr:
      return 1000;
    case eval_item::kind::factor:
      return item.n < (1ULL << 32) ? 2000 : 200'000;
    case eval_item::kind::prime_trial:
      // Upper bound: n prime, every wheel candidate up to √n tried.
      return static_cast<double>(kernels::isqrt_u64(item.n)) * 8.0 / 30.0 * trial_ns_per_candidate;
    case eval_item::kind::script:
      // Unknown in advance; a small guess keeps chunks short (a slow input then
      // strands little behind it) and a state is reused per worker.
      return 20'000;
    case eval_item::kind::record:
      // A cached condition over a small record runs in a few microseconds.
      return 2'000 +
             4'000.0 * static_cast<double>(item.record ? item.record->conditions.size() + 1 : 1);
    case eval_item::kind::invalid:
      break;
  }
  return 0;
}

}  // namespace evald

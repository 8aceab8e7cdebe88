#include "server/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/http_error.hpp"
#include "server/metrics.hpp"
#include "server/worker.hpp"

namespace evald {

router::route& router::route_for(std::string path, std::string label, bool prefix) {
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const route& r) { return r.path == path && r.prefix == prefix; });
  if (it == routes_.end()) {
    if (routes_.size() + 1 >= max_routes) {
      throw std::logic_error("too many routes for the metrics table");
    }
    routes_.push_back(route{std::move(path), std::move(label), {}, {}, prefix});
    it = std::prev(routes_.end());
  }
  return *it;
}

void router::add_method(route& r, http::verb method, handler h) {
  r.methods.emplace_back(method, h);
  std::string allow;
  for (const auto& [m, _] : r.methods) {
    allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(m));
    if (m == http::verb::get) {
      allow += ", HEAD";
    }
  }
  r.allow = allow + ", OPTIONS";
}

void router::add(http::verb method, std::string path, handler h) {
  std::string label = path;
  add_method(route_for(std::move(path), std::move(label), false), method, h);
  update_server_allow();
}

void router::add_prefix(http::verb method, std::string prefix, std::string label, handler h) {
  add_method(route_for(std::move(prefix), std::move(label), true), method, h);
  update_server_allow();
}

void router::update_server_allow() {
  std::vector<http::verb> seen;
  for (const auto& r : routes_) {
    for (const auto& [m, _] : r.methods) {
      if (std::find(seen.begin(), seen.end(), m) == seen.end()) {
        seen.push_back(m);
      }
    }
  }
  // A fixed order, so the header does not depend on registration order.
  server_allow_.clear();
  for (const http::verb m : {http::verb::get, http::verb::head, http::verb::post, http::verb::put,
                             http::verb::delete_}) {
    const bool present = std::find(seen.begin(), seen.end(), m) != seen.end() ||
                         (m == http::verb::head &&
                          std::find(seen.begin(), seen.end(), http::verb::get) != seen.end());
    if (present) {
      server_allow_.append(http::to_string(m)).append(", ");
    }
  }
  server_allow_ += "OPTIONS";
}

std::vector<std::string> router::labels() const {
  std::vector<std::string> out{"none"};
  for (const auto& r : routes_) {
    out.push_back(r.label);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> router::operations() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) {
    for (const auto& [method, h] : r.methods) {
      std::string name(http::to_string(method));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](char c) { return static_cast<char>(c - 'A' + 'a'); });
      out.emplace_back(std::move(name), r.label);
    }
  }
  return out;
}

const handler* router::find(http::verb method, std::string_view path, response& res,
                            std::size_t& route_index) const {
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const route& r) { return !r.prefix && r.path == path; });
  if (it == routes_.end()) {
    it = std::find_if(routes_.begin(), routes_.end(), [&](const route& r) {
      return r.prefix && path.size() > r.path.size() && path.starts_with(r.path);
    });
  }
  if (it == routes_.end()) {
    set_error(res, http::status::not_found, "not_found", "no route for " + std::string(path));
    route_index = 0;
    return nullptr;
  }
  route_index = static_cast<std::size_t>(it - routes_.begin()) + 1;
  const http::verb wanted = method == http::verb::head ? http::verb::get : method;
  for (const auto& [m, h] : it->methods) {
    if (m == wanted) {
      return &h;
    }
  }
  if (method == http::verb::options) {
    res.status = http::status::no_content;
    res.add_header("Allow", it->allow);
    return nullptr;
  }
  if (method == http::verb::unknown) {
    set_error(res, http::status::not_implemented, "not_implemented", "unknown request method");
    return nullptr;
  }
  set_error(res, http::status::method_not_allowed, "method_not_allowed",
            std::string(http::to_string(method)) + " is not allowed on " + std::string(path) +
                " (allowed: " + it->allow + ")");
  res.add_header("Allow", it->allow);
  return nullptr;
}

void set_client_error(response& res, const http_error& e) {
  set_error(res, e.status, e.code, e.message(), e.details, e.siblings);
  if (!e.retry_after.empty()) {
    res.add_header("Retry-After", e.retry_after);
  }
  if (!e.server_timing.empty()) {
    res.add_header("Server-Timing", e.server_timing);
  }
  if (!e.www_authenticate.empty()) {
    res.add_header("WWW-Authenticate", e.www_authenticate);
  }
}

namespace {

// The request id is formatted here, on the error path only.
void internal_error(response& res, request_context& ctx, const char* what) {
  const std::string request_id = ctx.owner.next_request_id();
  spdlog::error("request {} failed: {}", request_id, what);
  res.extra_headers.clear();
  set_error(res, http::status::internal_server_error, "internal_error",
            "internal error (request id " + request_id + ")");
}
}  // namespace

void router::run_sync(const handler& h, request_context& ctx, response& res) {
  try {
    h.sync(ctx, res);
  } catch (const http_error& e) {
    set_client_error(res, e);
  } catch (const std::exception& e) {
    internal_error(res, ctx, e.what());
  }
}

net::awaitable<void> router::run_async(const handler& h, request_context& ctx, response& res) {
  try {
    co_await h.async(ctx, res);
  } catch (const http_error& e) {
    set_client_error(res, e);
  } catch (const std::exception& e) {
    internal_error(res, ctx, e.what());
  }
}

}  // namespace evald

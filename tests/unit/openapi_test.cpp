// The OpenAPI document describes exactly the routes the router serves: the same
// (method, path) pairs (one route table for every backend), and every response
// it names uses a schema or response that exists.
#include "handlers/openapi/openapi_document.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "handlers/dashboard/stats_hub.hpp"
#include "handlers/routes.hpp"
#include "handlers/store/memory_backend.hpp"
#include "server/router.hpp"

namespace {

using json = nlohmann::json;
using operation = std::pair<std::string, std::string>;

// One route table serves every backend: the memory backend stands for all of them.
std::set<operation> routed() {
  evald::router routes;
  const evald::config::settings settings;
  evald::memory_backend stores(settings, {});
  evald::stats_hub stats(settings, {}, stores);
  evald::metrics_source metrics{stores, {}, std::chrono::system_clock::now(), &stats};
  evald::register_routes(routes, stores, metrics, &stats);
  const auto ops = routes.operations();
  return {ops.begin(), ops.end()};
}

std::set<operation> documented(const json& doc) {
  std::set<operation> out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, _] : item.items()) {
      out.emplace(method, path);
    }
  }
  return out;
}

void collect_refs(const json& j, std::vector<std::string>& refs) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string()) {
        refs.push_back(v.get<std::string>());
      } else {
        collect_refs(v, refs);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      collect_refs(v, refs);
    }
  }
}

}  // namespace

TEST(OpenApi, DocumentsExactlyTheRoutesTheRouterServes) {
  const json doc = json::parse(evald::openapi_document());
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  const auto in_doc = documented(doc);
  EXPECT_EQ(routed(), in_doc);
  for (const auto& [method, path] : in_doc) {
    const auto& op = doc["paths"][path][method];
    EXPECT_TRUE(op.contains("operationId")) << method << " " << path;
    EXPECT_FALSE(op.at("responses").empty()) << method << " " << path;
  }
}

TEST(OpenApi, EveryReferenceResolves) {
  const json doc = json::parse(evald::openapi_document());
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  EXPECT_GT(refs.size(), 20u);
  for (const auto& ref : refs) {
    ASSERT_TRUE(ref.starts_with("#/")) << ref;
    EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << ref;
  }
}

// The OpenAPI document describes exactly the routes the router serves: the same
// (method, path) pairs in both modes (in-memory and cluster), and every response
// it names uses a schema or response that exists.
#include "handlers/openapi_document.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "handlers/job_store.hpp"
#include "handlers/routes.hpp"
#include "handlers/script_store.hpp"
#include "server/router.hpp"

namespace {

using json = nlohmann::json;
using operation = std::pair<std::string, std::string>;

std::set<operation> routed(bool cluster_mode) {
  evald::router routes;
  evald::job_store jobs(10, std::chrono::seconds(1));
  evald::memory_script_store scripts(10);
  evald::route_stores stores{jobs, scripts};
  evald::metrics_source metrics{jobs, {}, std::chrono::system_clock::now()};
  evald::register_routes(routes, stores, metrics, cluster_mode, true);
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
  EXPECT_EQ(routed(false), in_doc);
#if defined(EVALD_HAS_CLUSTER)
  EXPECT_EQ(routed(true), in_doc) << "cluster mode serves the same routes";
#endif
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

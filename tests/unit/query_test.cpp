#include <gtest/gtest.h>

#include "server/query.hpp"

using namespace evald;

TEST(Query, SplitTarget) {
  EXPECT_EQ(split_target("/prime?n=7")->path, "/prime");
  EXPECT_EQ(split_target("/prime?n=7")->query, "n=7");
  EXPECT_EQ(split_target("/healthz")->query, "");
  EXPECT_EQ(split_target("http://example.com/healthz?x=1")->path, "/healthz");
  EXPECT_EQ(split_target("HTTP://example.com")->path, "/");
  EXPECT_EQ(split_target("http://example.com?n=1")->query, "n=1");
  EXPECT_FALSE(split_target("*"));
  EXPECT_FALSE(split_target("prime"));
  EXPECT_FALSE(split_target("http:///x"));
  EXPECT_FALSE(split_target(""));
}

TEST(Query, ParseAndDecode) {
  const auto q = query_params::parse("n=97&method=miller%2Drabin&flag&x=a+b&&");
  EXPECT_EQ(*q.find("n"), "97");
  EXPECT_EQ(*q.find("method"), "miller-rabin");
  EXPECT_EQ(*q.find("flag"), "");
  EXPECT_EQ(*q.find("x"), "a b");
  EXPECT_EQ(q.find("missing"), nullptr);
  EXPECT_EQ(q.items().size(), 4U);
  EXPECT_THROW(query_params::parse("n=%zz"), std::invalid_argument);
  EXPECT_THROW(query_params::parse("n=%4"), std::invalid_argument);
  EXPECT_THROW(query_params::parse("n=%"), std::invalid_argument);
}

#include <gtest/gtest.h>

#include "handlers/exec/item_results.hpp"
#include "handlers/http/params.hpp"
#include "server/ascii.hpp"
#include "server/http_error.hpp"

using namespace evald;

TEST(Params, ParseU64Decimal) {
  EXPECT_EQ(parse_u64_decimal("0"), 0U);
  EXPECT_EQ(parse_u64_decimal("0097"), 97U);
  EXPECT_EQ(parse_u64_decimal("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_u64_decimal("18446744073709551616"));
  EXPECT_FALSE(parse_u64_decimal("99999999999999999999999"));
  EXPECT_FALSE(parse_u64_decimal(""));
  EXPECT_FALSE(parse_u64_decimal("-1"));
  EXPECT_FALSE(parse_u64_decimal("+1"));
  EXPECT_FALSE(parse_u64_decimal("1e3"));
  EXPECT_FALSE(parse_u64_decimal(" 1"));
  EXPECT_FALSE(parse_u64_decimal("٣"));  // non-ASCII digit
}

TEST(Params, UnknownAndDuplicateParametersAreRejected) {
  EXPECT_THROW(check_query_params(query_params::parse("m=1"), {"n"}), http_error);
  EXPECT_THROW(check_query_params(query_params::parse("n=1&n=2"), {"n"}), http_error);
  EXPECT_NO_THROW(check_query_params(query_params::parse("n=1&method=trial"), {"n", "method"}));
  std::string json;
  append_u64_json(json, 18446744073709551615ULL);
  EXPECT_EQ(json, "\"18446744073709551615\"");
}

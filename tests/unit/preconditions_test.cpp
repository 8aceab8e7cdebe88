#include "server/preconditions.hpp"

#include <gtest/gtest.h>

using namespace evald;

namespace {

http::request_header<> req(http::verb method,
                           std::vector<std::pair<http::field, std::string>> fields) {
  http::request_header<> h;
  h.version(11);
  h.method(method);
  h.target("/x");
  for (auto& [f, v] : fields) {
    h.insert(f, v);
  }
  return h;
}

constexpr auto get = http::verb::get;
constexpr auto post = http::verb::post;

}  // namespace

TEST(ETag, StrongQuotedAndKeyed) {
  const std::string a = strong_etag("prime 7");
  EXPECT_EQ(a.size(), 18U);
  EXPECT_EQ(a.front(), '"');
  EXPECT_EQ(a.back(), '"');
  EXPECT_EQ(a, strong_etag("prime 7"));
  EXPECT_NE(a, strong_etag("prime 8"));
  EXPECT_NE(a, strong_etag("factor 7"));
}

TEST(ETag, ListMatching) {
  EXPECT_TRUE(etag_list_matches(R"("a")", R"("a")", false));
  EXPECT_TRUE(etag_list_matches(R"("x", "a")", R"("a")", false));
  EXPECT_TRUE(etag_list_matches(R"("x",W/"a")", R"("a")", true));    // weak comparison
  EXPECT_FALSE(etag_list_matches(R"("x",W/"a")", R"("a")", false));  // strong comparison
  EXPECT_FALSE(etag_list_matches(R"("ab")", R"("a")", true));
  EXPECT_FALSE(etag_list_matches(R"(a)", R"("a")", true));   // unquoted is not a tag
  EXPECT_FALSE(etag_list_matches(R"("a)", R"("a")", true));  // unterminated
  EXPECT_FALSE(etag_list_matches(R"("a")", "", true));       // no current tag
  EXPECT_TRUE(etag_list_matches(R"(junk, "a")", R"("a")", true));
}

TEST(Preconditions, OrderOfRfc9110Section13_2_2) {
  const std::string tag = R"("t")";
  using enum precondition;
  EXPECT_EQ(evaluate_preconditions(req(get, {}), tag, true), proceed);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_none_match, "*"}}), tag, true),
            not_modified);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_none_match, tag}}), tag, true),
            not_modified);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_none_match, "W/" + tag}}), tag, true),
            not_modified);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_none_match, R"("o")"}}), tag, true),
            proceed);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_match, R"("o")"}}), tag, true),
            failed);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_match, tag}}), tag, true), proceed);
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_match, "W/" + tag}}), tag, true),
            failed);
  // If-Match is judged first: a false If-Match is 412 even when If-None-Match would be 304.
  EXPECT_EQ(evaluate_preconditions(
                req(get, {{http::field::if_match, R"("o")"}, {http::field::if_none_match, tag}}),
                tag, true),
            failed);
  // Several field lines form one list.
  EXPECT_EQ(evaluate_preconditions(req(get, {{http::field::if_none_match, R"("o")"},
                                             {http::field::if_none_match, tag}}),
                                   tag, true),
            not_modified);
  // Unsafe methods get 412 where GET would get 304.
  EXPECT_EQ(evaluate_preconditions(req(post, {{http::field::if_none_match, "*"}}), "", true),
            failed);
  // With no current representation "*" matches nothing.
  EXPECT_EQ(evaluate_preconditions(req(post, {{http::field::if_none_match, "*"}}), "", false),
            proceed);
  EXPECT_EQ(evaluate_preconditions(req(post, {{http::field::if_match, "*"}}), "", false), failed);
  // No modification dates: the date conditions are ignored.
  EXPECT_EQ(evaluate_preconditions(
                req(get, {{http::field::if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT"},
                          {http::field::if_unmodified_since, "Sun, 06 Nov 1994 08:49:37 GMT"}}),
                tag, true),
            proceed);
}

TEST(Preconditions, DetectedInOnePass) {
  EXPECT_FALSE(has_preconditions(req(get, {{http::field::host, "x"}})));
  EXPECT_TRUE(has_preconditions(req(get, {{http::field::if_match, "*"}})));
  EXPECT_TRUE(has_preconditions(req(get, {{http::field::if_none_match, "*"}})));
}

namespace {
std::string range(std::string_view v, std::uint64_t length) {
  const auto a = evaluate_range(v, length);
  switch (a.what) {
    case range_answer::ignore:
      return "ignore";
    case range_answer::unsatisfiable:
      return "416";
    case range_answer::partial:
      return std::to_string(a.range.first) + "-" + std::to_string(a.range.last);
  }
  return "?";
}
}  // namespace

TEST(Range, SingleRanges) {
  EXPECT_EQ(range("bytes=0-9", 100), "0-9");
  EXPECT_EQ(range("bytes=10-", 100), "10-99");
  EXPECT_EQ(range("bytes=-10", 100), "90-99");
  EXPECT_EQ(range("bytes=-1000", 100), "0-99");
  EXPECT_EQ(range("bytes=50-1000", 100), "50-99");
  EXPECT_EQ(range("BYTES = 1-2", 100), "1-2");
  EXPECT_EQ(range("bytes=99-99", 100), "99-99");
  EXPECT_EQ(range("bytes=0-99999999999999999999999", 100), "0-99");  // saturates
}

TEST(Range, UnsatisfiableIs416) {
  EXPECT_EQ(range("bytes=100-", 100), "416");
  EXPECT_EQ(range("bytes=100-200", 100), "416");
  EXPECT_EQ(range("bytes=-0", 100), "416");
  EXPECT_EQ(range("bytes=0-0", 0), "416");
  EXPECT_EQ(range("bytes=99999999999999999999999-", 100), "416");
}

TEST(Range, InvalidOrForeignIsIgnored) {
  for (const char* v : {"bytes=5-1", "bytes=abc", "bytes=1-x", "bytes=", "bytes=-", "items=0-1",
                        "bytes 0-1", "", "bytes=--1", "bytes=1"}) {
    EXPECT_EQ(range(v, 100), "ignore") << v;
  }
}

TEST(Range, SeveralRangesAreCoalescedIntoOne) {
  EXPECT_EQ(range("bytes=0-1, 5-6", 100), "0-6");
  EXPECT_EQ(range("bytes=50-60,-5", 100), "50-99");
  EXPECT_EQ(range("bytes=200-300, 1-2", 100), "1-2");  // the unsatisfiable one is dropped
  EXPECT_EQ(range("bytes=0-1,,2-3", 100), "0-3");
  std::string many = "bytes=0-0";
  for (int i = 0; i < 200; ++i) {
    many += ",0-0";
  }
  EXPECT_EQ(range(many, 100), "ignore");  // past 100 ranges the field is ignored
}

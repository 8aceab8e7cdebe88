#include <gtest/gtest.h>

#include "server/framing.hpp"

using namespace evald;

namespace {

std::optional<framing_problem> check(unsigned version,
                                     std::vector<std::pair<http::field, std::string>> fields) {
  http::request_header<> h;
  h.version(version);
  h.method(http::verb::post);
  h.target("/");
  for (auto& [f, v] : fields) {
    h.insert(f, v);
  }
  return check_request_framing(h);
}

}  // namespace

TEST(Framing, PlainRequestsPass) {
  EXPECT_FALSE(check(11, {{http::field::host, "x"}}));
  EXPECT_FALSE(check(11, {{http::field::host, "x"}, {http::field::content_length, "5"}}));
  EXPECT_FALSE(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "chunked"}}));
  EXPECT_FALSE(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "Chunked"}}));
  EXPECT_FALSE(check(10, {}));  // HTTP/1.0 needs no Host
}

TEST(Framing, HostRules) {
  EXPECT_EQ(check(11, {})->status, http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "a"}, {http::field::host, "b"}})->status,
            http::status::bad_request);
}

TEST(Framing, SmugglingGuards) {
  const auto both = check(11, {{http::field::host, "x"},
                               {http::field::transfer_encoding, "chunked"},
                               {http::field::content_length, "4"}});
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, http::status::bad_request);
  EXPECT_EQ(check(10, {{http::field::transfer_encoding, "chunked"}})->status,
            http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "gzip"}})->status,
            http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "chunked, gzip"}})
                ->status,
            http::status::bad_request);
  EXPECT_EQ(
      check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "chunked, chunked"}})
          ->status,
      http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "foo"}})->status,
            http::status::not_implemented);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "gzip, chunked"}})
                ->status,
            http::status::not_implemented);
  // Split across two fields: the last coding of the combined list counts.
  EXPECT_EQ(check(11, {{http::field::host, "x"},
                       {http::field::transfer_encoding, "chunked"},
                       {http::field::transfer_encoding, "gzip"}})
                ->status,
            http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"},
                       {http::field::content_length, "4"},
                       {http::field::content_length, "4"}})
                ->status,
            http::status::bad_request);
}

#include "server/framing.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "server/ascii.hpp"

namespace evald {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

constexpr std::array<std::string_view, 7> registered_codings = {
    "chunked", "gzip", "x-gzip", "deflate", "compress", "x-compress", "identity"};

}  // namespace

std::optional<framing_problem> check_request_framing(const http::request_header<>& header) {
  const bool http11 = header.version() >= 11;

  const auto hosts = header.count(http::field::host);
  if (http11 && hosts == 0) {
    return framing_problem{http::status::bad_request, "HTTP/1.1 request without a Host header"};
  }
  if (hosts > 1) {
    return framing_problem{http::status::bad_request, "more than one Host header"};
  }
  if (header.count(http::field::content_length) > 1) {
    return framing_problem{http::status::bad_request, "more than one Content-Length header"};
  }
  if (const auto cl = header.find(http::field::content_length); cl != header.end()) {
    // Digits only: "5, 5" lists are as ambiguous as repeated fields (RFC 9110 §8.6).
    const std::string_view v = trim(cl->value());
    if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos) {
      return framing_problem{http::status::bad_request,
                             "Content-Length must be one decimal number"};
    }
  }
  if (const auto host = header.find(http::field::host); host != header.end()) {
    // uri-host [":" port] (RFC 9112 §3.2); an empty value is allowed.
    for (const char c : trim(host->value())) {
      const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                      std::string_view("-._~!$&'()*+,;=:[]%").find(c) != std::string_view::npos;
      if (!ok) {
        return framing_problem{http::status::bad_request, "invalid Host header"};
      }
    }
  }

  const auto te_fields = header.equal_range(http::field::transfer_encoding);
  if (te_fields.first == te_fields.second) {
    return std::nullopt;
  }
  if (!http11) {
    return framing_problem{http::status::bad_request,
                           "Transfer-Encoding is not allowed in HTTP/1.0"};
  }
  if (header.count(http::field::content_length) != 0) {
    return framing_problem{http::status::bad_request,
                           "both Transfer-Encoding and Content-Length (request smuggling guard)"};
  }
  // The codings of all Transfer-Encoding fields, in order, parameters dropped.
  std::vector<std::string> codings;
  for (auto it = te_fields.first; it != te_fields.second; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      item = trim(item.substr(0, item.find(';')));
      if (!item.empty()) {
        codings.push_back(lower(item));
      }
    }
  }
  if (codings.empty()) {
    return framing_problem{http::status::bad_request, "empty Transfer-Encoding"};
  }
  for (const auto& c : codings) {
    if (std::find(registered_codings.begin(), registered_codings.end(), c) ==
        registered_codings.end()) {
      return framing_problem{http::status::not_implemented,
                             "unknown transfer coding \"" + c + "\""};
    }
  }
  if (codings.back() != "chunked") {
    return framing_problem{
        http::status::bad_request,
        "the last transfer coding must be chunked, not \"" + codings.back() + "\""};
  }
  if (std::count(codings.begin(), codings.end(), "chunked") > 1) {
    return framing_problem{http::status::bad_request, "chunked applied more than once"};
  }
  if (codings.size() > 1) {
    return framing_problem{http::status::not_implemented,
                           "transfer coding \"" + codings.front() + "\" is not supported"};
  }
  return std::nullopt;
}

}  // namespace evald

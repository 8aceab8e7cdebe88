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

namespace {

constexpr bool is_tchar(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

framing_problem bad_line(std::string_view why) {
  return framing_problem{http::status::bad_request,
                         "malformed request line (expected \"METHOD /target HTTP/1.1\" and "
                         "CRLF): " +
                             std::string(why)};
}

}  // namespace

std::optional<framing_problem> check_request_line(std::string_view line) {
  if (line.size() < 2 || line.substr(line.size() - 2) != "\r\n") {
    return bad_line("the line must end with CRLF");
  }
  line.remove_suffix(2);
  std::size_t i = 0;
  while (i < line.size() && is_tchar(line[i])) {
    ++i;
  }
  if (i == 0) {
    return bad_line(line.empty() ? "empty line" : "the method must be a token");
  }
  if (i == line.size() || line[i] != ' ') {
    return bad_line(i == line.size() ? "no request target" : "one space must follow the method");
  }
  const std::size_t target_start = ++i;
  while (i < line.size() && line[i] != ' ') {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7f) {
      return bad_line("control character in the request target");
    }
    ++i;
  }
  if (i == target_start) {
    return bad_line("empty request target or more than one space");
  }
  if (i == line.size()) {
    return bad_line("no HTTP version");
  }
  const std::string_view version = line.substr(i + 1);
  if (version.starts_with(' ')) {
    return bad_line("more than one space before the version");
  }
  if (version.size() != 8 || !version.starts_with("HTTP/") || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return bad_line(version.empty() ? "no HTTP version after the target"
                                    : "the version must be HTTP/DIGIT.DIGIT, alone");
  }
  if (version[5] != '1') {
    return framing_problem{http::status::http_version_not_supported,
                           "only HTTP/1.0 and HTTP/1.1 are supported"};
  }
  return std::nullopt;
}

framing_problem overlong_request_line(std::string_view seen, std::uint64_t limit) {
  const bool method_only = std::all_of(seen.begin(), seen.end(), is_tchar);
  if (method_only) {
    return framing_problem{http::status::not_implemented, "unknown request method (longer than " +
                                                              std::to_string(limit) + " bytes)"};
  }
  return framing_problem{http::status::uri_too_long,
                         "request line longer than " + std::to_string(limit) + " bytes"};
}

}  // namespace evald

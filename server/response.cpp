#include "server/response.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "server/http_date.hpp"

namespace evald {

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void response::add_header(std::string_view name, std::string_view value) {
  extra_headers.append(name).append(": ").append(value).append("\r\n");
}

void set_error(response& res, http::status status, std::string_view code, std::string_view message,
               const std::vector<std::pair<std::string, std::string>>& details,
               const std::vector<std::pair<std::string, std::string>>& siblings) {
  res.status = status;
  res.content_type = "application/json";
  res.stream.reset();
  res.stream_length.reset();
  res.extra_headers.clear();
  res.etag.clear();
  res.cache_control = {};
  nlohmann::ordered_json j = {{"error",
                               {{"status", static_cast<unsigned>(status)},
                                {"code", std::string(code)},
                                {"message", std::string(message)}}}};
  for (const auto& [name, value] : details) {
    j["error"][name] = nlohmann::ordered_json::parse(value, nullptr, false);
  }
  for (const auto& [name, value] : siblings) {
    j[name] = nlohmann::ordered_json::parse(value, nullptr, false);
  }
  // Messages can echo client bytes: replace invalid UTF-8 instead of throwing.
  res.body = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void set_not_modified(response& res) {
  res.status = http::status::not_modified;
  res.body.clear();
  res.extra_headers.clear();
  res.stream.reset();
  res.stream_length.reset();
}

void set_precondition_failed(response& res) {
  set_error(res, http::status::precondition_failed, "precondition_failed",
            "a precondition (If-Match or If-None-Match) is false for the current representation");
}

void append_head(std::string& out, const response& res, bool close, bool keep_alive_header) {
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<unsigned>(res.status));
  out.push_back(' ');
  const auto reason = http::obsolete_reason(res.status);
  out.append(reason.data(), reason.size());
  out.append("\r\nServer: evald/" EVALD_VERSION "\r\nDate: ");
  out.append(http_date_now());
  const auto code = static_cast<unsigned>(res.status);
  if (code >= 200 && code != 204 && code != 304) {
    out.append("\r\nContent-Type: ");
    out.append(res.content_type);
    if (res.stream && !res.stream_length) {
      out.append("\r\nTransfer-Encoding: chunked");
    } else {
      out.append("\r\nContent-Length: ");
      append_number(out, res.stream ? *res.stream_length : res.body.size());
    }
  }
  if (!res.etag.empty()) {
    out.append("\r\nETag: ");
    out.append(res.etag);
  }
  if (!res.cache_control.empty()) {
    out.append("\r\nCache-Control: ");
    out.append(res.cache_control);
  }
  if (close) {
    out.append("\r\nConnection: close");
  } else if (keep_alive_header) {
    out.append("\r\nConnection: keep-alive");
  }
  out.append("\r\n");
  out.append(res.extra_headers);
  out.append("\r\n");
}

}  // namespace evald

#include "server/access_log.hpp"

#include <cstdio>

#include "server/json_text.hpp"
#include "server/platform.hpp"
#include "server/response.hpp"

namespace evald {
namespace {

// 2026-11-21T13:40:00.123Z
void append_time(std::string& out, std::chrono::system_clock::time_point t) {
  const auto since = t.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  const std::tm tm = platform::utc_time(static_cast<std::time_t>(secs.count()));
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(millis));
  out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace

access_format parse_access_format(std::string_view name) {
  if (name == "text") {
    return access_format::text;
  }
  if (name == "json") {
    return access_format::json;
  }
  return access_format::off;
}

void format_access_entry(std::string& out, access_format format, const access_entry& e) {
  const std::string_view version = e.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  if (format == access_format::json) {
    out.append(R"({"time":")");
    append_time(out, e.time);
    out.append(R"(","remote":)");
    append_json_string(out, e.remote);
    out.append(R"(,"method":)");
    append_json_string(out, e.method);
    out.append(R"(,"target":)");
    append_json_string(out, e.target);
    out.append(R"(,"version":")").append(version).append(R"(","status":)");
    append_number(out, e.status);
    out.append(R"(,"bytes":)");
    append_number(out, e.bytes);
    out.append(R"(,"wall_us":)");
    append_number(out, e.wall_us);
    out.append(R"(,"cpu_us":)");
    append_number(out, e.cpu_us);
    out.append(R"(,"worker":)");
    append_number(out, e.worker);
    out.append(R"(,"request_id":")");
    append_number(out, e.worker);
    out.push_back('-');
    append_number(out, e.sequence);
    out.push_back('"');
    if (!e.key_id.empty()) {
      out.append(R"(,"tenant":)");
      append_json_string(out, e.tenant);
      out.append(R"(,"key":)");
      append_json_string(out, e.key_id);
    }
    out.push_back('}');
    return;
  }
  append_time(out, e.time);
  out.push_back(' ');
  append_escaped_text(out, e.remote);
  out.append(" \"");
  append_escaped_text(out, e.method);
  out.push_back(' ');
  append_escaped_text(out, e.target);
  out.push_back(' ');
  out.append(version).append("\" ");
  append_number(out, e.status);
  out.push_back(' ');
  append_number(out, e.bytes);
  out.append(" wall_us=");
  append_number(out, e.wall_us);
  out.append(" cpu_us=");
  append_number(out, e.cpu_us);
  out.append(" worker=");
  append_number(out, e.worker);
  out.append(" id=");
  append_number(out, e.worker);
  out.push_back('-');
  append_number(out, e.sequence);
  if (!e.key_id.empty()) {
    out.append(" tenant=");
    append_escaped_text(out, e.tenant);
    out.append(" key=");
    append_escaped_text(out, e.key_id);
  }
}

}  // namespace evald

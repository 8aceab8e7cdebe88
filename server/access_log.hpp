#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace evald {

enum class access_format : std::uint8_t { off, text, json };
access_format parse_access_format(std::string_view name);  // "off", "text", "json"

// One answered request, as the access log records it.
struct access_entry {
  std::chrono::system_clock::time_point time;
  std::string_view remote;  // "address:port"
  std::string_view method;
  std::string_view target;  // raw bytes from the client
  unsigned version = 11;    // 10 or 11
  unsigned status = 0;
  std::uint64_t bytes = 0;  // body bytes sent
  std::uint64_t wall_us = 0;
  std::uint64_t cpu_us = 0;
  std::size_t worker = 0;
  std::uint64_t sequence = 0;  // request id = "<worker>-<sequence>"
  // The caller, when it used a key (never the secret): logged as tenant and key.
  std::string_view tenant;
  std::string_view key_id;
};

// Appends one line (without the newline). JSON: one object per line with every
// client-supplied string escaped and invalid UTF-8 replaced, so each line parses.
// Text: `time remote "METHOD target HTTP/1.x" status bytes wall_us=N cpu_us=N
// worker=N id=W-S`, with client bytes escaped so a request is one line.
void format_access_entry(std::string& out, access_format format, const access_entry& e);

}  // namespace evald

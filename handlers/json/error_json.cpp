#include "handlers/json/error_json.hpp"

#include <nlohmann/json.hpp>

namespace evald {

std::string error_json(const http_error& e) {
  nlohmann::ordered_json j;
  j["error"] = {
      {"status", static_cast<unsigned>(e.status)}, {"code", e.code}, {"message", e.message()}};
  for (const auto& [name, value] : e.details) {
    j["error"][name] = nlohmann::ordered_json::parse(value, nullptr, false);
  }
  // Messages can echo client bytes: invalid UTF-8 is replaced, never thrown.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace evald

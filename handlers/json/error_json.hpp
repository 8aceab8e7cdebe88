#pragma once
#include <string>

#include "server/http_error.hpp"

namespace evald {

// {"error":{"status","code","message"[,"numeration"][,"line"]}}: one failure as a batch
// slot, a failed job's result or a script's error, the same object the router sends.
std::string error_json(const http_error& e);

}  // namespace evald

#pragma once
#include <string_view>

namespace evald {

// handlers/openapi/openapi.json (the OpenAPI 3.1 description of every route),
// embedded at build time. tests/unit/openapi_test.cpp checks that its paths are
// exactly the router's routes.
std::string_view openapi_document() noexcept;

}  // namespace evald

#pragma once
#include <string_view>

namespace evald {

// handlers/dashboard/index.html, embedded at build time (no file is read at run time,
// and the page loads nothing from anywhere else).
std::string_view dashboard_page_html() noexcept;

}  // namespace evald

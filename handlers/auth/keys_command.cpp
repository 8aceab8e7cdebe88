#include "handlers/auth/keys_command.hpp"

#include <cstdio>
#include <string>
#include <string_view>

#include "handlers/auth/keys_file.hpp"
#include "server/platform.hpp"

namespace evald::auth {
namespace {

constexpr const char* usage =
    "usage: evald keys new --tenant NAME --scopes SCOPE[,SCOPE...]\n"
    "  NAME: 1 to 64 of a-z, 0-9, _ and -\n"
    "  SCOPE: eval, read, scripts:write, metrics, admin\n";

int bad_usage(const std::string& why) {
  std::fprintf(stderr, "evald keys: %s\n%s", why.c_str(), usage);
  return 2;
}

void fill_random(void* buf, std::size_t n) {
  platform::fill_random(static_cast<unsigned char*>(buf), n);
}

}  // namespace

int run_keys_command(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[2]) != "new") {
    return bad_usage("expected `new`");
  }
  std::string tenant;
  scope_set scopes = 0;
  for (int i = 3; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--tenant" || arg == "--scopes") && i + 1 >= argc) {
      return bad_usage(std::string(arg) + " needs a value");
    }
    if (arg == "--tenant") {
      tenant = argv[++i];
    } else if (arg == "--scopes") {
      std::string_view list = argv[++i];
      while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        const auto s = scope_named(item);
        if (!s) {
          return bad_usage("unknown scope \"" + std::string(item) + "\"");
        }
        scopes = scopes | *s;
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      }
    } else {
      return bad_usage("unknown argument \"" + std::string(arg) + "\"");
    }
  }
  if (!is_tenant_name(tenant)) {
    return bad_usage("--tenant must be 1 to 64 of a-z, 0-9, _ and - (not \"shared\")");
  }
  if (scopes == 0) {
    return bad_usage("--scopes names at least one scope");
  }
  if (!digests_available()) {
    std::fprintf(stderr, "evald keys: this build has no OpenSSL, so it cannot use API keys\n");
    return 1;
  }
  const new_token t = make_token(&fill_random);
  std::printf("%s\n%s\n", t.token.c_str(), keys_entry_json(t, tenant, scopes).c_str());
  std::fprintf(stderr,
               "evald keys: line 1 is the token (shown once: give it to the client, who sends "
               "Authorization: Bearer <token>); line 2 is the entry to add to the \"keys\" array "
               "of the keys file (auth.keys_file), then reload (systemctl reload evald, or "
               "SIGHUP).\n");
  return 0;
}

}  // namespace evald::auth

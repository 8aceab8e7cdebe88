#pragma once

namespace evald::auth {

// `evald keys new --tenant NAME --scopes eval,read`: prints a new token on the first
// line of stdout (shown once: only its digest is kept) and its keys-file entry on the
// second; what to do with them goes to stderr. Returns the exit status (2: bad usage).
int run_keys_command(int argc, char** argv);

}  // namespace evald::auth

#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tests/integration/harness.hpp"

namespace evald::test {

// A test suite that shares one evald (started before its first test with `Suite`'s
// config, stopped after its last): `class Scripts : public shared_server<Scripts>`
// with `static std::string config()` returning the config JSON.
template <class Suite>
class shared_server : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    evald_process::options opts;
    opts.config_json = Suite::config();
    server_ = std::make_unique<evald_process>(opts);
  }
  static void TearDownTestSuite() { server_.reset(); }
  static std::uint16_t port() { return server_->port(); }
  static evald_process& server() { return *server_; }

 private:
  static inline std::unique_ptr<evald_process> server_;
};

}  // namespace evald::test

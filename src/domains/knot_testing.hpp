// Test support: a real authoritative DNS server (Knot, knotd from Debian) on 127.0.0.1 with a
// free port, serving zones written by the test into a temp dir, stopped by the destructor.
//
// When knotd is not installed the tests fail, unless REPLIDEPLOY_SKIP_KNOT=1 says to skip them
// (visibly): use RD_KNOT_OR_SKIP(server, zones).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace replideploy::domains::testing {

class KnotServer {
 public:
  // `zones`: origin ("example.com") -> records in zone-file syntax, relative to the origin. The
  // SOA, an NS record and "ns A 127.0.0.1" are added. Waits until the server answers.
  static Result<std::unique_ptr<KnotServer>> Start(const std::map<std::string, std::string>& zones);
  ~KnotServer();
  KnotServer(const KnotServer&) = delete;
  KnotServer& operator=(const KnotServer&) = delete;

  // "127.0.0.1:<port>", for --dns-resolver.
  const std::string& address() const { return address_; }

  // Whether knotd is on PATH.
  static bool Installed();
  // REPLIDEPLOY_SKIP_KNOT=1.
  static bool SkipAllowed();

 private:
  KnotServer() = default;
  // One try on a free port: true when this instance answers, false when the port was taken
  // (try again), an error otherwise.
  Result<bool> Run(const std::map<std::string, std::string>& zones);
  std::string dir_;
  std::string address_;
  pid_t pid_ = -1;
};

// Starts `server` (a std::unique_ptr<KnotServer>) with `zones`, or skips/fails the test.
#define RD_KNOT_OR_SKIP(server, zones)                                                         \
  do {                                                                                         \
    if (!::replideploy::domains::testing::KnotServer::Installed()) {                           \
      if (::replideploy::domains::testing::KnotServer::SkipAllowed()) {                        \
        GTEST_SKIP() << "knotd is not installed (REPLIDEPLOY_SKIP_KNOT=1): DNS tests skipped"; \
      }                                                                                        \
      GTEST_FAIL() << "knotd is not installed (apt-get install knot); set "                    \
                      "REPLIDEPLOY_SKIP_KNOT=1 to skip these tests";                           \
    }                                                                                          \
    auto started = ::replideploy::domains::testing::KnotServer::Start(zones);                  \
    ASSERT_TRUE(started.ok()) << started.error().message;                                      \
    server = std::move(started).value();                                                       \
  } while (0)

}  // namespace replideploy::domains::testing

// For tests of the HTTPS listener: running command-line tools, and a throwaway PKI made with the
// openssl command. Test-only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/subprocess.hpp"
#include "http/testing.hpp"

namespace replideploy::http::testing {

inline core::ProcessResult RunTool(std::vector<std::string> argv, std::string input = "") {
  core::ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.input = std::move(input);
  spec.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kWait);
  auto result = core::RunProcess(spec);
  if (!result.ok()) {
    core::ProcessResult failed;
    failed.err = result.error().message;
    return failed;
  }
  return std::move(*result);
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A CA and leaf certificates signed by it, in a temporary directory.
class TestPki {
 public:
  TestPki() {
    char pattern[] = "/tmp/rd-tls-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    const auto ca = RunTool({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-nodes", "-keyout", Path("ca.key"), "-out",
                             Path("ca.pem"), "-days", "2", "-subj", "/CN=RepliDeploy Test CA"});
    EXPECT_TRUE(ca.Succeeded()) << ca.err;
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(std::string_view file) const { return dir_ + "/" + std::string(file); }
  std::string ca() const { return Path("ca.pem"); }

  // Writes <file>.crt and <file>.key for `names` (first one the CN), serial `serial` (hex).
  void Issue(const std::string& file, const std::vector<std::string>& names,
             const std::string& serial, bool rsa = false, const std::string& extra_ext = "") {
    std::string san = "subjectAltName=";
    for (std::size_t i = 0; i < names.size(); ++i) san += (i ? ",DNS:" : "DNS:") + names[i];
    std::vector<std::string> req = {"openssl", "req", "-newkey"};
    if (rsa) {
      req.insert(req.end(), {"rsa:2048"});
    } else {
      req.insert(req.end(), {"ec", "-pkeyopt", "ec_paramgen_curve:P-256"});
    }
    req.insert(req.end(), {"-nodes", "-keyout", Path(file + ".key.new"), "-out",
                           Path(file + ".csr"), "-subj", "/CN=" + names.front(), "-addext", san});
    if (!extra_ext.empty()) req.insert(req.end(), {"-addext", extra_ext});
    const auto made = RunTool(req);
    ASSERT_TRUE(made.Succeeded()) << made.err;
    const auto signed_ =
        RunTool({"openssl", "x509", "-req", "-in", Path(file + ".csr"), "-CA", ca(), "-CAkey",
                 Path("ca.key"), "-set_serial", "0x" + serial, "-days", "2", "-copy_extensions",
                 "copy", "-out", Path(file + ".crt.new")});
    ASSERT_TRUE(signed_.Succeeded()) << signed_.err;
    // Both files change at once for a reader that lists the directory.
    std::filesystem::rename(Path(file + ".key.new"), Path(file + ".key"));
    std::filesystem::rename(Path(file + ".crt.new"), Path(file + ".crt"));
  }

 private:
  std::string dir_;
};

// What `openssl s_client` saw of the server.
struct Handshake {
  bool connected = false;  // the handshake completed and the chain verified
  std::string subject;     // "CN = alpha.test"
  std::string protocol;    // "TLSv1.3"
  bool reused = false;
  std::string output;
};

// `input` is sent after the handshake (with -ign_eof, s_client then reads until the server
// closes: TLS 1.3 tickets arrive after the handshake).
inline Handshake SClient(std::uint16_t port, const std::string& ca, const std::string& name,
                         std::vector<std::string> extra = {}, const std::string& input = "") {
  std::vector<std::string> argv = {"openssl",
                                   "s_client",
                                   "-connect",
                                   "127.0.0.1:" + std::to_string(port),
                                   "-CAfile",
                                   ca,
                                   "-verify_return_error"};
  if (!name.empty()) argv.insert(argv.end(), {"-servername", name});
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!input.empty()) argv.push_back("-ign_eof");
  const auto result = RunTool(argv, input);
  Handshake seen;
  seen.output = result.out + result.err;
  std::smatch m;
  if (std::regex_search(seen.output, m, std::regex("subject=([^\\n]*)"))) seen.subject = m[1];
  if (std::regex_search(seen.output, m, std::regex("(New|Reused), (TLSv[0-9.]+)"))) {
    seen.reused = m[1] == "Reused";
    seen.protocol = m[2];
  }
  seen.connected =
      seen.output.find("Verify return code: 0 (ok)") != std::string::npos && !seen.protocol.empty();
  return seen;
}

}  // namespace replideploy::http::testing

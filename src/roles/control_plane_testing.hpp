// A test fixture for the control plane's defences (issue 10): a real server on 127.0.0.1 port 0
// over one engine (the test's parameter), and JSON calls to it. Used by auth_defences_test,
// sessions_test and audit_test.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "core/crypto.hpp"
#include "db/testing.hpp"
#include "http/client.hpp"
#include "http/client_address.hpp"
#include "http/server.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::api::testing {

struct Reply {
  int status = 0;
  boost::json::value body;
  http::Headers headers;
  std::string raw;
};

// Optional parts of a call.
struct CallOptions {
  std::string forwarded_for;  // X-Forwarded-For
  std::string user_agent;
};

class ControlPlaneTest : public ::testing::TestWithParam<db::Engine> {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<db::testing::TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    blobs_ = store::LocalBlobStore::Open(dir_.path()).value();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  void Start(auth::RegistrationMode registration = auth::RegistrationMode::kOpen,
             const std::string& trusted_proxies = "") {
    roles::PlatformOptions options;
    options.users = {std::string(32, 'j'), 3600, core::PasswordCost::Minimum(), registration};
    options.trusted_proxies = http::ParseCidrList(trusted_proxies, "trusted-proxies").value();
    options.processor_interval = std::chrono::milliseconds(50);
    app_ = std::make_unique<roles::Platform>(tdb_->db(), *blobs_, clock_, options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_ = std::make_unique<http::Server>(server_options, app_->Resolver());
    ASSERT_TRUE(server_->Listen().ok());
    app_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  // `body` null: none; a string: sent as it is; else serialised as JSON.
  Reply Call(const std::string& method, const std::string& path, const boost::json::value& body,
             const std::string& token = {}, const CallOptions& options = {}) {
    http::ClientRequest request;
    request.method = method;
    request.url = base_ + path;
    if (body.is_string()) {
      request.body = std::string(body.as_string());
    } else if (!body.is_null()) {
      request.body = boost::json::serialize(body);
      request.headers.Set("Content-Type", "application/json");
    }
    if (!token.empty()) request.headers.Set("Authorization", "Bearer " + token);
    if (!options.forwarded_for.empty()) {
      request.headers.Set("X-Forwarded-For", options.forwarded_for);
    }
    if (!options.user_agent.empty()) request.headers.Set("User-Agent", options.user_agent);
    auto response = http::Fetch(request);
    EXPECT_TRUE(response.ok());
    if (!response.ok()) return {};
    Reply reply{response->status, nullptr, response->headers, response->body};
    boost::system::error_code ec;
    reply.body = boost::json::parse(response->body, ec);
    return reply;
  }
  Reply Login(const std::string& email, const std::string& password,
              const CallOptions& options = {}) {
    return Call("POST", "/auth/login",
                boost::json::object{{"email", email}, {"password", password}}, {}, options);
  }
  Reply Register(const std::string& email, const std::string& invite = {}) {
    boost::json::object body{{"email", email}, {"password", "password123"}};
    if (!invite.empty()) body["invite"] = invite;
    return Call("POST", "/auth/register", body);
  }
  // Logs in with "password123"; the session token, or "" (a test failure).
  std::string SignIn(const std::string& email, const CallOptions& options = {}) {
    Reply r = Login(email, "password123", options);
    EXPECT_EQ(r.status, 200) << r.raw;
    return StringAt(r, "token");
  }
  static std::string StringAt(const Reply& r, std::string_view key) {
    const auto* obj = r.body.if_object();
    if (obj == nullptr || !obj->contains(key) || !obj->at(key).is_string()) return "";
    return std::string(obj->at(key).as_string());
  }
  static std::string ErrorCodeOf(const Reply& r) {
    const auto* obj = r.body.if_object();
    if (obj == nullptr || !obj->contains("error")) return "<no error body: " + r.raw + ">";
    EXPECT_TRUE(r.body.at("error").at("message").is_string());
    return std::string(r.body.at("error").at("code").as_string());
  }

  core::ManualClock clock_{1'800'000'000'000};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<db::testing::TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<roles::Platform> app_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
};

}  // namespace replideploy::api::testing

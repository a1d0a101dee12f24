// JSON calls to a platform served on 127.0.0.1, shared by the roles tests that drive one through
// its API (api_test, domains_api_test, site_tls_test, skew_protection_test,
// custom_domain_https_test). A fixture derives from ApiCalls and sets base_ once its server
// listens.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "http/client.hpp"

namespace replideploy::roles {

struct ApiReply {
  int status = 0;
  boost::json::value body;  // parsed when the answer says it is JSON, else null
  http::Headers headers;
  std::string raw;
};

class ApiCalls {
 protected:
  using Reply = ApiReply;

  // `body` goes as it is (Content-Type: application/json when not empty); `host`, `cookie`
  // set those headers when not empty.
  Reply Call(const std::string& method, const std::string& path, const std::string& body = {},
             const std::string& token = {}, const std::string& host = {},
             const std::string& cookie = {}) {
    http::ClientRequest request;
    request.method = method;
    request.url = base_ + path;
    request.body = body;
    if (!body.empty()) request.headers.Set("Content-Type", "application/json");
    if (!token.empty()) request.headers.Set("Authorization", "Bearer " + token);
    if (!host.empty()) request.headers.Set("Host", host);
    if (!cookie.empty()) request.headers.Set("Cookie", cookie);
    auto response = http::Fetch(request);
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error().message);
    if (!response.ok()) return {};
    Reply reply{response->status, nullptr, response->headers, response->body};
    if (response->headers.Get("Content-Type").starts_with("application/json")) {
      boost::system::error_code ec;
      reply.body = boost::json::parse(response->body, ec);
      EXPECT_FALSE(ec) << response->body;
    }
    return reply;
  }
  Reply CallJson(const std::string& method, const std::string& path, const boost::json::value& body,
                 const std::string& token = {}) {
    return Call(method, path, boost::json::serialize(body), token);
  }

  // Registers `email` (password "password123"; an existing account is fine) and signs in: the
  // session token, or "" (a test failure).
  std::string SignUp(const std::string& email) {
    const boost::json::object credentials{{"email", email}, {"password", "password123"}};
    CallJson("POST", "/auth/register", credentials);
    Reply login = CallJson("POST", "/auth/login", credentials);
    EXPECT_EQ(login.status, 200) << login.raw;
    return login.body.is_object() ? std::string(login.body.at("token").as_string()) : "";
  }

  // Deploys `files` (path -> content) to `site` as a production deploy and waits until it is
  // ready; its id in `deploy_id` when given.
  void Deploy(const std::string& token, const std::string& site,
              const std::map<std::string, std::string>& files, std::string* deploy_id = nullptr) {
    Reply created = CallJson("POST", "/api/v1/sites/" + site + "/deploys",
                             boost::json::object{{"draft", false}}, token);
    ASSERT_EQ(created.status, 200) << created.raw;
    const std::string id(created.body.at("id").as_string());
    if (deploy_id != nullptr) *deploy_id = id;
    boost::json::object digests;
    for (const auto& [path, content] : files) digests[path] = core::HexEncode(core::Sha1(content));
    ASSERT_EQ(CallJson("PUT", "/api/v1/sites/" + site + "/deploys/" + id,
                       boost::json::object{{"files", digests}}, token)
                  .status,
              200);
    for (const auto& [path, content] : files) {
      ASSERT_EQ(Call("PUT", "/api/v1/deploys/" + id + "/files/" + path, content, token).status,
                200);
    }
    std::string state;
    core::testing::WaitUntil([&] {
      Reply d = Call("GET", "/api/v1/sites/" + site + "/deploys/" + id, "", token);
      state = d.body.is_object() ? std::string(d.body.at("state").as_string()) : "";
      return state == "ready" || state == "error";
    });
    ASSERT_EQ(state, "ready");
  }

  std::string base_;  // "http://127.0.0.1:PORT"
};

}  // namespace replideploy::roles

// Site analytics through the real binary: requests served by the edge are counted, flushed into
// the database (--analytics-flush-seconds 1) and read back through the API by the site's owner
// only. See docs/analytics.md.
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"
#include "db/testing.hpp"

namespace replideploy::cli {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class AnalyticsBinary : public BinaryFixture {
 protected:
  // Every process a test started is stopped (SIGTERM, waited for), also after a failure.
  void TearDown() override {
    for (pid_t pid : started_) {
      if (pid > 0) kill(pid, SIGTERM);
    }
    for (pid_t pid : started_) {
      if (pid > 0) Wait(pid);
    }
    pg_.reset();  // after its users stopped
    BinaryFixture::TearDown();
  }
  std::string Start(const std::string& role, std::vector<std::string> extra,
                    const std::string& name) {
    pid_t pid = 0;
    const std::string port = StartRole(pid, role, std::move(extra), name);
    started_.push_back(pid);
    return port;
  }

  // Creates site `name` and deploys `files` (path -> content) through the API; true once ready.
  static bool DeploySite(const std::string& base, const std::string& token, const std::string& name,
                         const std::map<std::string, std::string>& files) {
    auto site = Call(base, "POST", "/api/v1/sites", R"({"name":")" + name + "\"}", token, "");
    if (!site.ok() || site->status != 201) return false;
    const std::string id = JsonField(
        Call(base, "POST", "/api/v1/sites/" + name + "/deploys", "{}", token, "")->body, "id");
    if (id.empty()) return false;
    json::object digests;
    for (const auto& [path, content] : files) digests[path] = core::HexEncode(core::Sha1(content));
    const std::string body = json::serialize(json::object{{"files", digests}});
    if (Call(base, "PUT", "/api/v1/deploys/" + id, body, token, "")->status != 200) return false;
    for (const auto& [path, content] : files) {
      auto uploaded =
          Call(base, "PUT", "/api/v1/deploys/" + id + "/files/" + path, content, token, "");
      if (!uploaded.ok() || uploaded->status != 200) return false;
    }
    const auto deploy = NewestDeploy(
        base, token, name, [](const std::string& s) { return s == "ready" || s == "error"; });
    return deploy.second == "ready";
  }

  // The analytics of `site` once their total of requests is `requests` (bounded wait: counts
  // reach the database at the next flush), else the last answer.
  static json::object AnalyticsOnce(const std::string& base, const std::string& token,
                                    const std::string& site, std::uint64_t requests) {
    json::object last;
    for (int i = 0; i < 600; ++i) {
      auto got =
          Call(base, "GET", "/api/v1/sites/" + site + "/analytics?range=hour", "", token, "");
      if (got.ok() && got->status == 200) {
        last = json::parse(got->body).as_object();
        if (last.at("totals").at("requests").to_number<std::uint64_t>() == requests) break;
      }
      std::this_thread::sleep_for(50ms);
    }
    return last;
  }

  std::vector<pid_t> started_;
  std::unique_ptr<db::testing::TestDatabase> pg_;
};

TEST_F(AnalyticsBinary, EdgeCountsReachTheOwnersAnalytics) {
  const std::string port =
      Start("serve", {"--build-workers", "0", "--analytics-flush-seconds", "1"}, "");
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "owner@example.com");
  const std::string stranger = SignUpToken(base, "stranger@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_FALSE(stranger.empty());
  const std::string home = "<h1>counted home</h1>";
  const std::string about = "about page";
  ASSERT_TRUE(DeploySite(base, token, "counted", {{"index.html", home}, {"about.html", about}}));

  // A known mix: 5 x "/" (200), 3 x "/about.html" (200), 4 x "/missing" (404), 2 x HEAD "/".
  std::uint64_t bytes = 0;
  const auto get = [&](const std::string& method, const std::string& path, int status) {
    auto got = Call(base, method, path, "", "", "counted.localhost");
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->status, status) << path;
    bytes += got->body.size();
  };
  for (int i = 0; i < 5; ++i) get("GET", "/", 200);
  for (int i = 0; i < 3; ++i) get("GET", "/about.html?utm=x", 200);
  for (int i = 0; i < 4; ++i) get("GET", "/missing", 404);
  for (int i = 0; i < 2; ++i) get("HEAD", "/", 200);

  const json::object a = AnalyticsOnce(base, token, "counted", 14);
  ASSERT_FALSE(a.empty());
  const json::object& totals = a.at("totals").as_object();
  EXPECT_EQ(totals.at("requests").to_number<std::uint64_t>(), 14u) << json::serialize(a);
  EXPECT_EQ(totals.at("bytes").to_number<std::uint64_t>(), bytes) << json::serialize(a);
  EXPECT_EQ(totals.at("status").at("2xx").to_number<std::uint64_t>(), 10u);
  EXPECT_EQ(totals.at("status").at("4xx").to_number<std::uint64_t>(), 4u);
  EXPECT_EQ(a.at("range").as_string(), "hour");
  EXPECT_EQ(a.at("points").as_array().size(), 60u);
  EXPECT_EQ(json::serialize(a.at("top_paths")),
            R"([{"path":"/","requests":7},{"path":"/missing","requests":4},)"
            R"({"path":"/about.html","requests":3}])");
  EXPECT_EQ(json::serialize(a.at("top_404s")), R"([{"path":"/missing","requests":4}])");
  EXPECT_EQ(a.at("other_paths_requests").to_number<std::uint64_t>(), 0u);

  // The owner only: another user, no credential, a bad range.
  auto theirs = Call(base, "GET", "/api/v1/sites/counted/analytics", "", stranger, "");
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(theirs->status, 404) << theirs->body;
  EXPECT_EQ(theirs->body.find("requests"), std::string::npos);
  auto anonymous = Call(base, "GET", "/api/v1/sites/counted/analytics", "", "", "");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 401);
  auto month = Call(base, "GET", "/api/v1/sites/counted/analytics?range=month", "", token, "");
  ASSERT_TRUE(month.ok());
  EXPECT_EQ(month->status, 400);
  EXPECT_NE(month->body.find("\"error\""), std::string::npos) << month->body;
  auto week = Call(base, "GET", "/api/v1/sites/counted/analytics?range=week", "", token, "");
  ASSERT_TRUE(week.ok());
  ASSERT_EQ(week->status, 200);
  EXPECT_EQ(json::parse(week->body).at("totals").at("requests").to_number<std::uint64_t>(), 14u);
}

// Two edge processes over one PostgreSQL database count requests for one site in the same
// minutes and flush every second: the owner reads the sum of both.
TEST_F(AnalyticsBinary, TwoEdgesOverPostgresAddUp) {
  pg_ = std::make_unique<db::testing::TestDatabase>(db::Engine::kPostgres);
  RD_SKIP_IF_UNAVAILABLE(*pg_);
  const std::vector<std::string> database = {"--database", pg_->url()};
  const std::string api = Start("api", database, "api-");
  ASSERT_FALSE(api.empty()) << ReadFile(dir_ + "/api-stderr");
  std::vector<std::string> edge_flags = database;
  edge_flags.insert(edge_flags.end(), {"--analytics-flush-seconds", "1"});
  const std::string edge1 = Start("edge", edge_flags, "edge1-");
  const std::string edge2 = Start("edge", edge_flags, "edge2-");
  ASSERT_FALSE(edge1.empty() || edge2.empty()) << ReadFile(dir_ + "/edge1-stderr");

  const std::string base = "http://127.0.0.1:" + api;
  const std::string token = SignUpToken(base, "pg-owner@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_TRUE(DeploySite(base, token, "twice", {{"index.html", "served by both"}}));
  // Interleaved, so that both edges count in the same minutes and flush them.
  for (int i = 0; i < 20; ++i) {
    for (const std::string& edge : {edge1, edge2}) {
      auto got = Call("http://127.0.0.1:" + edge, "GET", i % 4 == 0 ? "/nope" : "/", "", "",
                      "twice.localhost");
      ASSERT_TRUE(got.ok());
    }
  }
  const json::object a = AnalyticsOnce(base, token, "twice", 40);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.at("totals").at("requests").to_number<std::uint64_t>(), 40u) << json::serialize(a);
  EXPECT_EQ(a.at("totals").at("status").at("4xx").to_number<std::uint64_t>(), 10u);
  EXPECT_EQ(json::serialize(a.at("top_paths")),
            R"([{"path":"/","requests":30},{"path":"/nope","requests":10}])");
  EXPECT_EQ(json::serialize(a.at("top_404s")), R"([{"path":"/nope","requests":10}])");
}

}  // namespace
}  // namespace replideploy::cli

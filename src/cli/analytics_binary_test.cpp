// Site analytics through the real binary: requests served by the edge are counted, flushed into
// the database (--analytics-flush-seconds 1) and read back through the API by the site's owner
// only. See docs/analytics.md.
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "cli/binary_fixture.hpp"
#include "core/crypto.hpp"

namespace replideploy::cli {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

class AnalyticsBinary : public BinaryFixture {
 protected:
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
};

TEST_F(AnalyticsBinary, EdgeCountsReachTheOwnersAnalytics) {
  pid_t pid = 0;
  const std::string port =
      StartServer(pid, {"--build-workers", "0", "--analytics-flush-seconds", "1"});
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

}  // namespace
}  // namespace replideploy::cli

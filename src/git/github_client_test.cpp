#include "git/github_client.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/subprocess.hpp"
#include "fake_github/fake_github.hpp"
#include "http/client.hpp"
#include "http/message.hpp"

namespace replideploy::git {
namespace {

using fake_github::FakeGithub;
using fake_github::FakeGithubOptions;
using fake_github::FakeRequest;

constexpr std::string_view kSha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
constexpr std::string_view kCallback = "http://localhost:8080/auth/github/callback";
const std::string kPackageJson =
    "{\"scripts\":{\"build\":\"vite build\"},\"devDependencies\":{\"vite\":\"^5\"}}";

// Every byte value, and a length that is not a multiple of 3 (base64 padding).
std::string BinaryContent() {
  std::string out;
  for (int round = 0; round < 3; ++round) {
    for (int b = 0; b < 256; ++b) out.push_back(static_cast<char>(b));
  }
  out += "xy";
  return out;
}

std::string QueryValue(std::string_view url, std::string_view name) {
  const std::size_t q = url.find('?');
  if (q == std::string_view::npos) return "<absent>";
  for (const auto& [k, v] : http::ParseQuery(url.substr(q + 1))) {
    if (k == name) return v;
  }
  return "<absent>";
}

class GithubClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeGithubOptions options;
    options.client_id = "test-client";
    options.client_secret = "test-secret";
    github_ = std::make_unique<FakeGithub>(options);
    github_->AddUser("octocat");
    github_->AddRepo("octocat", "vite-app", "main",
                     {{"package.json", kPackageJson},
                      {"src/main.js", "console.log('hi');\n"},
                      {"assets/blob.bin", BinaryContent()},
                      {"big/text.txt", std::string(200'000, 'a') + "end"},
                      {"big/huge.bin", std::string(kMaxGithubFileBytes + 1, 'z')}});
    github_->AddRepo("octocat", "secret-stuff", "trunk", {{"README.md", "# hidden\n"}}, true);
    github_->AddRepo("hubot", "others-repo", "main", {{"README.md", "# not yours\n"}});
    github_->AddRepo("hubot", "hubots-private", "main", {{"README.md", "# private\n"}}, true);
    Status started = github_->Start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    token_ = github_->IssueToken("octocat");
    client_ = std::make_unique<GithubClient>(Options());
  }

  GithubOptions Options() const {
    GithubOptions options;
    options.web_url = github_->base_url();
    options.api_url = github_->base_url();
    options.client_id = "test-client";
    options.client_secret = "test-secret";
    options.timeout = std::chrono::seconds(30);
    return options;
  }

  std::vector<FakeRequest> RequestsTo(std::string_view path) const {
    std::vector<FakeRequest> out;
    for (FakeRequest& r : github_->Requests()) {
      if (r.path == path) out.push_back(std::move(r));
    }
    return out;
  }

  // What any error from the client must never contain.
  void ExpectNoToken(const Error& error) const {
    EXPECT_EQ(error.message.find(token_), std::string::npos) << error.message;
  }

  std::unique_ptr<FakeGithub> github_;
  std::unique_ptr<GithubClient> client_;
  std::string token_;
};

TEST_F(GithubClientTest, AuthorizeUrlEncodesEveryParameter) {
  const std::string url = client_->AuthorizeUrl("st&te=x y", kCallback);
  EXPECT_EQ(url, github_->base_url() +
                     "/login/oauth/authorize?client_id=test-client"
                     "&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fauth%2Fgithub%2Fcallback"
                     "&scope=repo%20admin:repo_hook&state=st%26te%3Dx%20y");
  EXPECT_TRUE(client_->configured());
  EXPECT_FALSE(GithubClient(GithubOptions{}).configured());
}

TEST_F(GithubClientTest, OAuthFlowFromAuthorizeToCurrentUser) {
  // The browser's part: the fake approves at once and redirects with a code and our state.
  http::ClientRequest browser;
  browser.url = client_->AuthorizeUrl("state-123", kCallback);
  browser.headers.Set("User-Agent", "Mozilla/5.0");
  Result<http::ClientResponse> redirect = http::Fetch(browser);
  ASSERT_TRUE(redirect.ok()) << redirect.error().message;
  ASSERT_EQ(redirect->status, 302) << redirect->body;
  const std::string location(redirect->headers.Get("Location"));
  ASSERT_TRUE(location.starts_with(std::string(kCallback) + "?code=")) << location;
  EXPECT_EQ(QueryValue(location, "state"), "state-123");
  const std::string code = QueryValue(location, "code");
  EXPECT_EQ(code.size(), 20u);

  Result<std::string> token = client_->ExchangeCode(code, kCallback);
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_TRUE(token->starts_with("gho_")) << *token;

  // The exchange is a form POST with the app's credentials, no bearer token, JSON wanted.
  const std::vector<FakeRequest> exchanges = RequestsTo("/login/oauth/access_token");
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].method, "POST");
  EXPECT_FALSE(exchanges[0].headers.Has("Authorization"));
  EXPECT_EQ(exchanges[0].headers.Get("Accept"), "application/json");
  EXPECT_EQ(exchanges[0].headers.Get("User-Agent"), "replideploy");

  Result<GithubUser> user = client_->CurrentUser(*token);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_EQ(user->login, "octocat");
  EXPECT_GT(user->id, 0);
  EXPECT_EQ(user->html_url, github_->base_url() + "/octocat");
  EXPECT_EQ(user->name, "The octocat");

  // A code works once.
  Result<std::string> again = client_->ExchangeCode(code, kCallback);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(again.error().detail_code, "github_oauth_failed");
}

TEST_F(GithubClientTest, BadCodeIsGithubOAuthFailedWithGithubsDescription) {
  Result<std::string> token = client_->ExchangeCode("0123456789abcdef0123", kCallback);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(token.error().detail_code, "github_oauth_failed");
  EXPECT_NE(token.error().message.find("The code passed is incorrect or expired."),
            std::string::npos)
      << token.error().message;
}

TEST_F(GithubClientTest, WrongClientSecretFailsTheExchange) {
  GithubOptions options = Options();
  options.client_secret = "not-the-secret";
  Result<std::string> token = GithubClient(options).ExchangeCode("anything", kCallback);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().detail_code, "github_oauth_failed");
  EXPECT_NE(token.error().message.find("client_id and/or client_secret"), std::string::npos)
      << token.error().message;
  EXPECT_EQ(token.error().message.find("not-the-secret"), std::string::npos);
}

TEST_F(GithubClientTest, UnconfiguredClientDoesNotCallGithub) {
  GithubOptions options = Options();
  options.client_secret.clear();
  Result<std::string> token = GithubClient(options).ExchangeCode("code", kCallback);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(token.error().detail_code, "github_not_configured");
  EXPECT_TRUE(github_->Requests().empty());
}

TEST_F(GithubClientTest, CurrentUserSendsGithubsHeaders) {
  Result<GithubUser> user = client_->CurrentUser(token_);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_EQ(user->login, "octocat");
  const std::vector<FakeRequest> requests = RequestsTo("/user");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].headers.Get("Authorization"), "Bearer " + token_);
  EXPECT_EQ(requests[0].headers.Get("Accept"), "application/vnd.github+json");
  EXPECT_EQ(requests[0].headers.Get("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(requests[0].headers.Get("User-Agent"), "replideploy");
}

TEST_F(GithubClientTest, ListReposReadsTheFields) {
  Result<std::vector<GithubRepo>> repos = client_->ListRepos(token_);
  ASSERT_TRUE(repos.ok()) << repos.error().message;
  // octocat's own two, most recently pushed first; hubot's are not listed.
  ASSERT_EQ(repos->size(), 2u);
  const GithubRepo& secret = (*repos)[0];
  EXPECT_EQ(secret.full_name, "octocat/secret-stuff");
  EXPECT_EQ(secret.name, "secret-stuff");
  EXPECT_EQ(secret.owner, "octocat");
  EXPECT_EQ(secret.default_branch, "trunk");
  EXPECT_TRUE(secret.is_private);
  EXPECT_EQ(secret.html_url, github_->base_url() + "/octocat/secret-stuff");
  EXPECT_EQ(secret.clone_url, github_->base_url() + "/octocat/secret-stuff.git");
  const GithubRepo& vite = (*repos)[1];
  EXPECT_EQ(vite.full_name, "octocat/vite-app");
  EXPECT_FALSE(vite.is_private);
  EXPECT_GT(vite.id, 0);
  EXPECT_NE(vite.id, secret.id);
  EXPECT_LT(vite.pushed_at, secret.pushed_at);
  EXPECT_EQ(vite.pushed_at.size(), 20u) << vite.pushed_at;  // 2023-11-15T22:13:20Z

  const std::vector<FakeRequest> requests = RequestsTo("/user/repos");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].query,
            "per_page=100&sort=pushed&affiliation=owner,collaborator,organization_member");
}

TEST_F(GithubClientTest, ListReposFollowsLinkHeadersAcrossPages) {
  for (int i = 0; i < 250; ++i) {
    github_->AddRepo("prolific", "repo-" + std::to_string(i), "main", {{"README.md", "x"}});
  }
  const std::string token = github_->IssueToken("prolific");
  Result<std::vector<GithubRepo>> repos = client_->ListRepos(token);
  ASSERT_TRUE(repos.ok()) << repos.error().message;
  ASSERT_EQ(repos->size(), 250u);
  std::set<std::string> names;
  for (const GithubRepo& repo : *repos) names.insert(repo.full_name);
  EXPECT_EQ(names.size(), 250u);
  // sort=pushed: the last one added was pushed last and comes first.
  EXPECT_EQ(repos->front().full_name, "prolific/repo-249");
  EXPECT_EQ(repos->back().full_name, "prolific/repo-0");

  const std::vector<FakeRequest> requests = RequestsTo("/user/repos");
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(QueryValue("?" + requests[0].query, "page"), "<absent>");
  EXPECT_EQ(QueryValue("?" + requests[1].query, "page"), "2");
  EXPECT_EQ(QueryValue("?" + requests[2].query, "page"), "3");
  for (const FakeRequest& r : requests) {
    EXPECT_EQ(QueryValue("?" + r.query, "per_page"), "100");
    EXPECT_EQ(r.headers.Get("Authorization"), "Bearer " + token);
  }
}

TEST_F(GithubClientTest, ListReposDoesNotFollowLinksToAnotherHost) {
  http::Response page = http::Response::Json(200, "[]");
  page.headers.Set("Link", "<http://127.0.0.1:1/user/repos?page=2>; rel=\"next\"");
  github_->AnswerNextRequestsForTest(page);
  Result<std::vector<GithubRepo>> repos = client_->ListRepos(token_);
  ASSERT_TRUE(repos.ok()) << repos.error().message;
  EXPECT_TRUE(repos->empty());
  EXPECT_EQ(RequestsTo("/user/repos").size(), 1u);
}

TEST_F(GithubClientTest, CreateHookAndDeleteIt) {
  Result<std::int64_t> id = client_->CreateHook(
      token_, "octocat/vite-app", "https://deploy.example.com/api/v1/hooks/github", "s3cret");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_GT(*id, 0);

  std::vector<fake_github::FakeHook> hooks = github_->Hooks();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].id, *id);
  EXPECT_EQ(hooks[0].repo, "octocat/vite-app");
  EXPECT_EQ(hooks[0].url, "https://deploy.example.com/api/v1/hooks/github");
  EXPECT_EQ(hooks[0].secret, "s3cret");
  EXPECT_EQ(hooks[0].content_type, "json");
  EXPECT_EQ(hooks[0].events, (std::vector<std::string>{"push", "pull_request"}));
  EXPECT_TRUE(hooks[0].active);

  // The same URL again: GitHub's 422.
  Result<std::int64_t> duplicate = client_->CreateHook(
      token_, "octocat/vite-app", "https://deploy.example.com/api/v1/hooks/github", "s3cret");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(duplicate.error().detail_code, "github_hook_failed");
  EXPECT_NE(duplicate.error().message.find("Hook already exists on this repository"),
            std::string::npos)
      << duplicate.error().message;

  Status deleted = client_->DeleteHook(token_, "octocat/vite-app", *id);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_TRUE(github_->Hooks().empty());
  // Gone already: still success.
  Status again = client_->DeleteHook(token_, "octocat/vite-app", *id);
  EXPECT_TRUE(again.ok()) << again.error().message;
  const std::string hook_path = "/repos/octocat/vite-app/hooks/" + std::to_string(*id);
  const std::vector<FakeRequest> deletes = RequestsTo(hook_path);
  ASSERT_EQ(deletes.size(), 2u);
  EXPECT_EQ(deletes[0].method, "DELETE");
}

TEST_F(GithubClientTest, HookOnARepositoryWeCannotAdministerIsRepoAccess) {
  for (std::string_view repo : {"hubot/others-repo", "hubot/hubots-private", "hubot/missing"}) {
    Result<std::int64_t> id = client_->CreateHook(token_, repo, "https://x.example/h", "s");
    ASSERT_FALSE(id.ok()) << repo;
    EXPECT_EQ(id.error().code, ErrorCode::kUnprocessable);
    EXPECT_EQ(id.error().detail_code, "github_repo_access");
    EXPECT_EQ(id.error().message, "cannot access " + std::string(repo) + " on GitHub: Not Found");
  }
  EXPECT_TRUE(github_->Hooks().empty());
}

TEST_F(GithubClientTest, CreateStatusIsRecorded) {
  Status set = client_->CreateStatus(token_, "octocat/vite-app", kSha, "pending",
                                     "http://localhost:8080/sites/s/deploys/d", "Building");
  ASSERT_TRUE(set.ok()) << set.error().message;
  Status done = client_->CreateStatus(token_, "octocat/vite-app", kSha, "success",
                                      "http://localhost:8080/sites/s/deploys/d", "Deploy is live",
                                      "replideploy/preview");
  ASSERT_TRUE(done.ok()) << done.error().message;

  const std::vector<fake_github::FakeStatus> statuses = github_->Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].repo, "octocat/vite-app");
  EXPECT_EQ(statuses[0].sha, kSha);
  EXPECT_EQ(statuses[0].state, "pending");
  EXPECT_EQ(statuses[0].target_url, "http://localhost:8080/sites/s/deploys/d");
  EXPECT_EQ(statuses[0].description, "Building");
  EXPECT_EQ(statuses[0].context, "replideploy/deploy");
  EXPECT_EQ(statuses[1].state, "success");
  EXPECT_EQ(statuses[1].context, "replideploy/preview");
}

TEST_F(GithubClientTest, LongStatusDescriptionIsCutTo140Characters) {
  // 150 characters of which some are two-byte: a byte cut would break UTF-8 or GitHub's limit.
  std::string description;
  for (int i = 0; i < 75; ++i) description += "a\xC3\xA9";  // "aé"
  Status set = client_->CreateStatus(token_, "octocat/vite-app", kSha, "failure", "", description);
  ASSERT_TRUE(set.ok()) << set.error().message;
  const std::vector<fake_github::FakeStatus> statuses = github_->Statuses();
  ASSERT_EQ(statuses.size(), 1u);
  std::string expected;
  for (int i = 0; i < 70; ++i) expected += "a\xC3\xA9";
  EXPECT_EQ(statuses[0].description, expected);
  EXPECT_EQ(statuses[0].target_url, "");
}

TEST_F(GithubClientTest, BadStatusArgumentsAreRefusedWithoutARequest) {
  const auto code = [&](std::string_view sha, std::string_view state) {
    Status s = client_->CreateStatus(token_, "octocat/vite-app", sha, state, "", "d");
    return s.ok() ? std::string("ok") : std::string(ErrorCodeName(s.error().code));
  };
  EXPECT_EQ(code(kSha, "done"), "bad_request");
  EXPECT_EQ(code(kSha, ""), "bad_request");
  EXPECT_EQ(code("6dcb09b", "success"), "bad_request");
  EXPECT_EQ(code("zzcb09b5b57875f334f61aebed695e2e4193db5e", "success"), "bad_request");
  EXPECT_EQ(code("../../../../user", "success"), "bad_request");
  EXPECT_TRUE(github_->Requests().empty());
}

TEST_F(GithubClientTest, GetFileDecodesContent) {
  Result<std::optional<std::string>> package =
      client_->GetFile(token_, "octocat/vite-app", "package.json", "main");
  ASSERT_TRUE(package.ok()) << package.error().message;
  ASSERT_TRUE(package->has_value());
  EXPECT_EQ(**package, kPackageJson);

  Result<std::optional<std::string>> nested =
      client_->GetFile(token_, "octocat/vite-app", "src/main.js", kSha);
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  ASSERT_TRUE(nested->has_value());
  EXPECT_EQ(**nested, "console.log('hi');\n");

  Result<std::optional<std::string>> binary =
      client_->GetFile(token_, "octocat/vite-app", "assets/blob.bin", "");
  ASSERT_TRUE(binary.ok()) << binary.error().message;
  ASSERT_TRUE(binary->has_value());
  EXPECT_EQ(**binary, BinaryContent());

  // Many base64 lines.
  Result<std::optional<std::string>> text =
      client_->GetFile(token_, "octocat/vite-app", "big/text.txt", "main");
  ASSERT_TRUE(text.ok()) << text.error().message;
  ASSERT_TRUE(text->has_value());
  EXPECT_EQ((*text)->size(), 200'003u);
  EXPECT_TRUE((*text)->ends_with("aend"));

  const std::vector<FakeRequest> requests =
      RequestsTo("/repos/octocat/vite-app/contents/src/main.js");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].query, "ref=" + std::string(kSha));
  EXPECT_EQ(RequestsTo("/repos/octocat/vite-app/contents/assets/blob.bin").at(0).query, "");
}

TEST_F(GithubClientTest, GetFileMissingIsNullopt) {
  for (auto [path, ref] : {std::pair{"netlify.toml", "main"}, std::pair{"package.json", "nope"}}) {
    Result<std::optional<std::string>> file =
        client_->GetFile(token_, "octocat/vite-app", path, ref);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_FALSE(file->has_value()) << path;
  }
  // A private repository of someone else looks missing too, as GitHub makes it look.
  Result<std::optional<std::string>> hidden =
      client_->GetFile(token_, "hubot/hubots-private", "README.md", "");
  ASSERT_TRUE(hidden.ok()) << hidden.error().message;
  EXPECT_FALSE(hidden->has_value());
  // A public one is readable.
  Result<std::optional<std::string>> open =
      client_->GetFile(token_, "hubot/others-repo", "README.md", "");
  ASSERT_TRUE(open.ok()) << open.error().message;
  EXPECT_EQ(open->value_or("<none>"), "# not yours\n");
}

TEST_F(GithubClientTest, GetFileRefusesDirectoriesAndLargeFiles) {
  Result<std::optional<std::string>> dir = client_->GetFile(token_, "octocat/vite-app", "src", "");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().detail_code, "github_not_a_file");

  Result<std::optional<std::string>> huge =
      client_->GetFile(token_, "octocat/vite-app", "big/huge.bin", "");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(huge.error().detail_code, "github_file_too_large");
}

TEST_F(GithubClientTest, BadPathsAreRefusedWithoutARequest) {
  for (std::string_view path : {"", "/etc/passwd", "a/../b", "..", "a//b", "a/", "./a", "a\nb"}) {
    Result<std::optional<std::string>> file =
        client_->GetFile(token_, "octocat/vite-app", path, "main");
    ASSERT_FALSE(file.ok()) << path;
    EXPECT_EQ(file.error().code, ErrorCode::kBadRequest) << path;
  }
  EXPECT_TRUE(github_->Requests().empty());
}

TEST_F(GithubClientTest, RevokedTokenAsksToReconnect) {
  github_->RevokeToken(token_);
  Result<GithubUser> user = client_->CurrentUser(token_);
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, ErrorCode::kForbidden);
  EXPECT_EQ(user.error().detail_code, "github_reconnect");
  EXPECT_NE(user.error().message.find("reconnect GitHub"), std::string::npos);
  ExpectNoToken(user.error());

  Result<std::vector<GithubRepo>> repos = client_->ListRepos(token_);
  ASSERT_FALSE(repos.ok());
  EXPECT_EQ(repos.error().detail_code, "github_reconnect");
  Result<std::int64_t> hook = client_->CreateHook(token_, "octocat/vite-app", "https://h", "s");
  ASSERT_FALSE(hook.ok());
  EXPECT_EQ(hook.error().detail_code, "github_reconnect");
  Status status = client_->CreateStatus(token_, "octocat/vite-app", kSha, "error", "", "x");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().detail_code, "github_reconnect");
  Result<std::optional<std::string>> file =
      client_->GetFile(token_, "octocat/vite-app", "package.json", "");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().detail_code, "github_reconnect");
  ExpectNoToken(file.error());
  // Each call reached GitHub: the 401 came from there.
  EXPECT_EQ(github_->Requests().size(), 5u);
}

TEST_F(GithubClientTest, BadRepositoryNamesAreRefusedWithoutARequest) {
  for (std::string_view name :
       {"", "octocat", "octocat/", "/vite-app", "octocat/vite-app/hooks", "../vite-app",
        "octocat/..", "octocat/.", "octo cat/x", "octocat/vite%2Fapp", "octocat/a..b",
        "octocat/vite-app?x=1", "octocat/vite-app#", "o\r\nX-Evil: 1/x"}) {
    Result<std::int64_t> hook = client_->CreateHook(token_, name, "https://h", "s");
    ASSERT_FALSE(hook.ok()) << name;
    EXPECT_EQ(hook.error().code, ErrorCode::kBadRequest) << name;
    EXPECT_EQ(client_->DeleteHook(token_, name, 1).error().code, ErrorCode::kBadRequest) << name;
    EXPECT_EQ(client_->CreateStatus(token_, name, kSha, "success", "", "").error().code,
              ErrorCode::kBadRequest)
        << name;
    EXPECT_EQ(client_->GetFile(token_, name, "a", "").error().code, ErrorCode::kBadRequest) << name;
  }
  EXPECT_TRUE(IsValidRepoFullName("octo-cat/vite.app_2"));
  EXPECT_TRUE(github_->Requests().empty());
}

TEST_F(GithubClientTest, GithubDownIsUnavailable) {
  // A port that was just ours and is closed now: connection refused.
  auto closed = std::make_unique<FakeGithub>();
  ASSERT_TRUE(closed->Start().ok());
  const std::string dead_url = closed->base_url();
  closed.reset();

  GithubOptions options = Options();
  options.web_url = dead_url;
  options.api_url = dead_url;
  const GithubClient down(options);
  Result<GithubUser> user = down.CurrentUser(token_);
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(user.error().message.starts_with("cannot reach GitHub")) << user.error().message;
  ExpectNoToken(user.error());
  Result<std::string> token = down.ExchangeCode("code", kCallback);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(token.error().message.find("test-secret"), std::string::npos);
  EXPECT_EQ(down.ListRepos(token_).error().code, ErrorCode::kUnavailable);
}

TEST_F(GithubClientTest, ServerErrorsAndGarbageAreUnavailable) {
  github_->AnswerNextRequestsForTest(http::Response::Json(502, "{\"message\":\"Bad gateway\"}"));
  Result<GithubUser> bad_gateway = client_->CurrentUser(token_);
  ASSERT_FALSE(bad_gateway.ok());
  EXPECT_EQ(bad_gateway.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(bad_gateway.error().message, "GitHub is unavailable (HTTP 502)");

  github_->AnswerNextRequestsForTest(http::Response::Text(200, "<html>not json</html>"));
  Result<std::vector<GithubRepo>> garbage = client_->ListRepos(token_);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(garbage.error().message, "unexpected answer from GitHub");

  github_->AnswerNextRequestsForTest(http::Response::Json(200, "{\"login\":\"octocat\"}"));
  Result<GithubUser> no_id = client_->CurrentUser(token_);
  ASSERT_FALSE(no_id.ok());
  EXPECT_EQ(no_id.error().message, "unexpected answer from GitHub");

  github_->AnswerNextRequestsForTest(
      http::Response::Json(201,
                           "{\"type\":\"file\",\"encoding\":\"base64\",\"size\":3,"
                           "\"content\":\"!!!!\"}"));
  Result<std::int64_t> hook = client_->CreateHook(token_, "octocat/vite-app", "https://h", "s");
  ASSERT_FALSE(hook.ok());
  EXPECT_EQ(hook.error().code, ErrorCode::kUnavailable);

  github_->AnswerNextRequestsForTest(http::Response::Json(
      200, "{\"type\":\"file\",\"encoding\":\"base64\",\"size\":3,\"content\":\"!!!!\"}"));
  Result<std::optional<std::string>> file =
      client_->GetFile(token_, "octocat/vite-app", "package.json", "");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code, ErrorCode::kUnavailable);
}

TEST_F(GithubClientTest, RateLimitIsRateLimited) {
  http::Response limited = http::Response::Json(
      403,
      "{\"message\":\"API rate limit exceeded for user ID 1.\",\"documentation_url\":"
      "\"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api\"}");
  limited.headers.Set("X-RateLimit-Remaining", "0");
  limited.headers.Set("Retry-After", "42");
  github_->AnswerNextRequestsForTest(limited);
  Status status = client_->CreateStatus(token_, "octocat/vite-app", kSha, "success", "", "");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(status.error().detail_code, "github_rate_limited");
  EXPECT_EQ(status.error().retry_after_seconds, 42);
}

TEST_F(GithubClientTest, OversizedAnswerIsUnavailable) {
  github_->AnswerNextRequestsForTest(
      http::Response::Json(200, "[\"" + std::string(kMaxGithubResponseBytes, 'x') + "\"]"));
  Result<std::vector<GithubRepo>> repos = client_->ListRepos(token_);
  ASSERT_FALSE(repos.ok());
  EXPECT_EQ(repos.error().code, ErrorCode::kUnavailable);
}

// A temporary directory, removed with the object; path() is empty when it could not be made.
class TempDir {
 public:
  TempDir() {
    std::string dir = (std::filesystem::temp_directory_path() / "rd-git-test-XXXXXX").string();
    if (::mkdtemp(dir.data()) != nullptr) path_ = dir;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "Authorization: Basic <base64 of x-access-token:TOKEN>", as git is told to send it.
std::string AccessTokenHeader(std::string_view token) {
  std::string b64 = core::Base64UrlEncode("x-access-token:" + std::string(token));
  for (char& c : b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (b64.size() % 4 != 0) b64.push_back('=');
  return "Authorization: Basic " + b64;
}

// git against the fake GitHub's smart HTTP, as a build worker runs it: no system or user
// configuration, and never a prompt.
class FakeGithubGitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(home_.path().empty());
    github_.AddRepo("octocat", "site", "main",
                    {{"index.html", "<h1>hi</h1>\n"}, {"src/app.js", "let x = 1;\n"}});
    github_.AddRepo("octocat", "secret", "trunk", {{"README.md", "# secret\n"}},
                    /*is_private=*/true);
    github_.AddUser("hubot");
    Status started = github_.Start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }

  std::string Url(std::string_view full_name) const {
    return github_.base_url() + "/" + std::string(full_name) + ".git";
  }

  core::ProcessResult Git(std::vector<std::string> args,
                          const std::filesystem::path& cwd = {}) const {
    args.insert(args.begin(), "git");
    const char* path = std::getenv("PATH");
    Result<core::ProcessResult> run = core::RunProcess(
        {.argv = std::move(args),
         .env = std::vector<std::string>{std::string("PATH=") +
                                             (path != nullptr ? path : "/usr/bin:/bin"),
                                         "HOME=" + home_.path().string(), "GIT_CONFIG_NOSYSTEM=1",
                                         "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"},
         .cwd = cwd.string(),
         .timeout = std::chrono::seconds(60)});
    EXPECT_TRUE(run.ok()) << run.error().message;
    return run.ok() ? *std::move(run) : core::ProcessResult{};
  }

  http::ClientResponse Get(std::string_view path, std::string authorization = "",
                           std::string method = "GET") const {
    http::ClientRequest request;
    request.method = std::move(method);
    request.url = github_.base_url() + std::string(path);
    request.headers.Set("User-Agent", "git/2.39.5");
    if (!authorization.empty()) request.headers.Set("Authorization", std::move(authorization));
    Result<http::ClientResponse> response = http::Fetch(request);
    EXPECT_TRUE(response.ok()) << response.error().message;
    return response.ok() ? *std::move(response) : http::ClientResponse{};
  }

  std::vector<FakeRequest> RequestsTo(std::string_view path) const {
    std::vector<FakeRequest> out;
    for (FakeRequest& r : github_.Requests()) {
      if (r.path == path) out.push_back(std::move(r));
    }
    return out;
  }

  TempDir home_;  // git's HOME, and where clones go
  FakeGithub github_;
};

TEST_F(FakeGithubGitTest, LsRemoteListsTheDefaultBranchAtHeadSha) {
  const std::string sha = github_.HeadSha("octocat", "site", "main");
  ASSERT_EQ(sha.size(), 40u) << sha;
  EXPECT_EQ(github_.HeadSha("octocat", "site", "nope"), "");
  EXPECT_EQ(github_.HeadSha("octocat", "nothing", "main"), "");
  for (const std::string version : {"2", "0"}) {
    const core::ProcessResult ls =
        Git({"-c", "protocol.version=" + version, "ls-remote", Url("octocat/site")});
    ASSERT_TRUE(ls.Succeeded()) << ls.err;
    EXPECT_EQ(ls.out, sha + "\tHEAD\n" + sha + "\trefs/heads/main\n") << "protocol " << version;
  }
  const std::vector<FakeRequest> advertised = RequestsTo("/octocat/site.git/info/refs");
  ASSERT_EQ(advertised.size(), 2u);
  EXPECT_EQ(advertised[0].method, "GET");
  EXPECT_EQ(advertised[0].query, "service=git-upload-pack");
  EXPECT_EQ(advertised[0].headers.Get("Git-Protocol"), "version=2");
  EXPECT_EQ(RequestsTo("/octocat/site.git/git-upload-pack").size(), 1u);  // v2's ls-refs
}

TEST_F(FakeGithubGitTest, ClonesAPublicRepositoryWithoutCredentials) {
  const std::filesystem::path clone = home_.path() / "site";
  const core::ProcessResult cloned = Git({"clone", "--quiet", Url("octocat/site"), clone.string()});
  ASSERT_TRUE(cloned.Succeeded()) << cloned.err;
  EXPECT_EQ(ReadWholeFile(clone / "index.html"), "<h1>hi</h1>\n");
  EXPECT_EQ(ReadWholeFile(clone / "src/app.js"), "let x = 1;\n");
  const core::ProcessResult log = Git({"log", "--format=%H %an <%ae> %cn <%ce> %s", "HEAD"}, clone);
  EXPECT_EQ(log.out, github_.HeadSha("octocat", "site", "main") +
                         " Fake GitHub <fake@example.com> Fake GitHub <fake@example.com> Initial "
                         "commit\n");
  // Without ".git", as github.com allows too.
  const core::ProcessResult bare =
      Git({"ls-remote", github_.base_url() + "/octocat/site", "refs/heads/main"});
  EXPECT_TRUE(bare.Succeeded()) << bare.err;
  for (const FakeRequest& request : github_.Requests()) {
    EXPECT_FALSE(request.headers.Has("Authorization")) << request.path;
  }
}

TEST_F(FakeGithubGitTest, PrivateRepositoryNeedsTheOwnersToken) {
  const auto clone = [&](std::string_view dir, std::string header) {
    std::vector<std::string> args;
    if (!header.empty()) args = {"-c", "http.extraHeader=" + header};
    args.insert(args.end(),
                {"clone", "--quiet", Url("octocat/secret"), (home_.path() / dir).string()});
    return Git(args);
  };
  const core::ProcessResult anonymous = clone("anonymous", "");
  EXPECT_FALSE(anonymous.Succeeded());
  EXPECT_FALSE(anonymous.timed_out);
  EXPECT_NE(anonymous.err.find("terminal prompts disabled"), std::string::npos) << anonymous.err;

  const std::string token = github_.IssueToken("octocat");
  const core::ProcessResult owner = clone("owner", AccessTokenHeader(token));
  ASSERT_TRUE(owner.Succeeded()) << owner.err;
  EXPECT_EQ(ReadWholeFile(home_.path() / "owner" / "README.md"), "# secret\n");
  const std::vector<FakeRequest> fetches = RequestsTo("/octocat/secret.git/git-upload-pack");
  ASSERT_FALSE(fetches.empty());
  EXPECT_EQ("Authorization: " + std::string(fetches.back().headers.Get("Authorization")),
            AccessTokenHeader(token));

  const core::ProcessResult other = clone("other", AccessTokenHeader(github_.IssueToken("hubot")));
  EXPECT_FALSE(other.Succeeded());
  EXPECT_NE(other.err.find("not found"), std::string::npos) << other.err;
  github_.RevokeToken(token);
  EXPECT_FALSE(clone("revoked", AccessTokenHeader(token)).Succeeded());

  // The answers behind those failures.
  const std::string_view refs = "/octocat/secret.git/info/refs?service=git-upload-pack";
  const http::ClientResponse missing = Get(refs);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers.Get("WWW-Authenticate"), "Basic realm=\"GitHub\"");
  const std::string revoked =
      AccessTokenHeader(token).substr(std::string("Authorization: ").size());
  EXPECT_EQ(Get(refs, revoked).status, 401);
  const std::string hubot =
      AccessTokenHeader(github_.IssueToken("hubot")).substr(std::string("Authorization: ").size());
  EXPECT_EQ(Get(refs, hubot).status, 404);
  EXPECT_EQ(Get("/octocat/nothing.git/info/refs?service=git-upload-pack").status, 404);
  const core::ProcessResult nothing = Git({"ls-remote", Url("octocat/nothing")});
  EXPECT_FALSE(nothing.Succeeded());
  EXPECT_NE(nothing.err.find("not found"), std::string::npos) << nothing.err;
}

TEST_F(FakeGithubGitTest, FetchesAPushedCommitBySha) {
  const std::filesystem::path clone = home_.path() / "site";
  ASSERT_TRUE(Git({"clone", "--quiet", Url("octocat/site"), clone.string()}).Succeeded());
  const std::string first = github_.HeadSha("octocat", "site", "main");

  // A new branch starts from the default branch's head.
  const std::string feature =
      github_.PushCommit("octocat", "site", "feature",
                         {{"index.html", "<h1>v2</h1>\n"},
                          {"new/file.txt", "new\n"},
                          // Git sorts the directory "a" as "a/": after "a-b" and "a.b", before
                          // "a0". The fake computes the sha git will; a wrong order would fail
                          // the fetch.
                          {"a-b", "1"},
                          {"a.b", "2"},
                          {"a/c", std::string("binary\0\xff", 8)},
                          {"a0", "4"}},
                         "Version 2");
  ASSERT_EQ(feature.size(), 40u) << feature;
  EXPECT_EQ(github_.HeadSha("octocat", "site", "feature"), feature);
  EXPECT_EQ(github_.HeadSha("octocat", "site", "main"), first);
  const core::ProcessResult fetched =
      Git({"fetch", "--quiet", "--depth=1", "origin", feature}, clone);
  ASSERT_TRUE(fetched.Succeeded()) << fetched.err;
  EXPECT_EQ(Git({"rev-parse", "FETCH_HEAD"}, clone).out, feature + "\n");
  EXPECT_EQ(Git({"show", feature + ":index.html"}, clone).out, "<h1>v2</h1>\n");
  EXPECT_EQ(Git({"show", feature + ":new/file.txt"}, clone).out, "new\n");
  EXPECT_EQ(Git({"show", feature + ":a/c"}, clone).out, std::string("binary\0\xff", 8));
  EXPECT_EQ(Git({"ls-tree", "--name-only", feature}, clone).out,
            "a-b\na.b\na\na0\nindex.html\nnew\nsrc\n");
  EXPECT_EQ(Git({"show", feature + ":src/app.js"}, clone).out, "let x = 1;\n");
  EXPECT_EQ(Git({"log", "-1", "--format=%s", feature}, clone).out, "Version 2\n");

  // On an existing branch, on top of its head; fetched by sha over protocol v0 too.
  const std::string second =
      github_.PushCommit("octocat", "site", "main", {{"src/app.js", "let x = 2;\n"}}, "Bump");
  EXPECT_EQ(github_.HeadSha("octocat", "site", "main"), second);
  const core::ProcessResult v0 =
      Git({"-c", "protocol.version=0", "fetch", "--quiet", "--depth=1", "origin", second}, clone);
  ASSERT_TRUE(v0.Succeeded()) << v0.err;
  EXPECT_EQ(Git({"show", second + ":src/app.js"}, clone).out, "let x = 2;\n");
  EXPECT_EQ(Git({"show", second + ":index.html"}, clone).out, "<h1>hi</h1>\n");
  // A shallow fetch hides the parent from rev-parse; the commit object still names it.
  EXPECT_NE(Git({"cat-file", "-p", second}, clone).out.find("\nparent " + first + "\n"),
            std::string::npos);

  // Two commits git has not seen yet go out in one write, the second on top of the first.
  const std::string third = github_.PushCommit("octocat", "site", "later", {{"x", "3"}}, "Third");
  const std::string fourth = github_.PushCommit("octocat", "site", "later", {{"x", "4"}}, "Fourth");
  const core::ProcessResult later =
      Git({"fetch", "--quiet", "--depth=2", "origin", "refs/heads/later"}, clone);
  ASSERT_TRUE(later.Succeeded()) << later.err;
  EXPECT_EQ(Git({"rev-parse", "FETCH_HEAD", "FETCH_HEAD^"}, clone).out,
            fourth + "\n" + third + "\n");
  EXPECT_EQ(Git({"show", third + ":x"}, clone).out, "3");
  EXPECT_EQ(Git({"show", fourth + ":src/app.js"}, clone).out, "let x = 2;\n");

  // The contents API reads the same commits.
  GithubOptions options;
  options.api_url = github_.base_url();
  const GithubClient client(options);
  const std::string token = github_.IssueToken("octocat");
  for (const auto& [ref, content] :
       std::vector<std::pair<std::string, std::string>>{{feature, "<h1>v2</h1>\n"},
                                                        {"feature", "<h1>v2</h1>\n"},
                                                        {feature.substr(0, 7), "<h1>v2</h1>\n"},
                                                        {first, "<h1>hi</h1>\n"},
                                                        {"main", "<h1>hi</h1>\n"}}) {
    Result<std::optional<std::string>> file =
        client.GetFile(token, "octocat/site", "index.html", ref);
    ASSERT_TRUE(file.ok()) << file.error().message;
    ASSERT_TRUE(file->has_value()) << ref;
    EXPECT_EQ(**file, content) << ref;
  }
  Result<std::optional<std::string>> app = client.GetFile(token, "octocat/site", "src/app.js", "");
  ASSERT_TRUE(app.ok() && app->has_value());
  EXPECT_EQ(**app, "let x = 2;\n");
  Result<std::optional<std::string>> absent =
      client.GetFile(token, "octocat/site", "new/file.txt", "main");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());

  EXPECT_THROW(github_.PushCommit("octocat", "nothing", "main", {}, "x"), std::invalid_argument);
  EXPECT_THROW(github_.PushCommit("octocat", "site", "main", {{"../up", "x"}}, "x"),
               std::invalid_argument);
  EXPECT_THROW(github_.PushCommit("octocat", "site", "main", {{"index.html/x", "x"}}, "x"),
               std::invalid_argument);
  EXPECT_THROW(github_.PushCommit("octocat", "site", "bad..name", {}, "x"), std::invalid_argument);
  EXPECT_EQ(github_.HeadSha("octocat", "site", "main"), second);
}

TEST_F(FakeGithubGitTest, RefusesPushes) {
  const std::filesystem::path clone = home_.path() / "site";
  ASSERT_TRUE(Git({"clone", "--quiet", Url("octocat/site"), clone.string()}).Succeeded());
  const core::ProcessResult push = Git({"push", "origin", "HEAD:refs/heads/pushed"}, clone);
  EXPECT_FALSE(push.Succeeded());
  EXPECT_NE(push.err.find("403"), std::string::npos) << push.err;
  EXPECT_EQ(github_.HeadSha("octocat", "site", "pushed"), "");
  EXPECT_EQ(Get("/octocat/site.git/info/refs?service=git-receive-pack").status, 403);
  EXPECT_EQ(Get("/octocat/site.git/git-receive-pack", "", "POST").status, 403);
  EXPECT_EQ(Get("/octocat/site.git/info/refs").status, 403);  // dumb HTTP
}

TEST(FakeGithub, WritesHooksAndStatusesToTheStateFile) {
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "rd-fake-github-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir_template.data()), nullptr);
  const std::filesystem::path dir = dir_template;
  FakeGithubOptions options;
  options.state_file = (dir / "state.json").string();
  FakeGithub github(options);
  github.AddRepo("octocat", "site", "main", {{"index.html", "hi"}});
  ASSERT_TRUE(github.Start().ok());
  const auto read_state = [&] {
    std::ifstream in(options.state_file);
    std::stringstream text;
    text << in.rdbuf();
    return boost::json::parse(text.str());
  };
  EXPECT_EQ(boost::json::serialize(read_state()), "{\"hooks\":[],\"statuses\":[]}");

  GithubOptions client_options;
  client_options.api_url = github.base_url();
  const GithubClient client(client_options);
  const std::string token = github.IssueToken("octocat");
  Result<std::int64_t> id = client.CreateHook(token, "octocat/site", "http://h.example/x", "k");
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(client.CreateStatus(token, "octocat/site", kSha, "success", "http://t", "ok").ok());
  const boost::json::value state = read_state();
  const boost::json::object& hook = state.at("hooks").at(0).as_object();
  EXPECT_EQ(hook.at("repo").as_string(), "octocat/site");
  EXPECT_EQ(hook.at("id").as_int64(), *id);
  EXPECT_EQ(hook.at("url").as_string(), "http://h.example/x");
  EXPECT_EQ(hook.at("secret").as_string(), "k");
  EXPECT_EQ(hook.at("content_type").as_string(), "json");
  EXPECT_EQ(state.at("statuses").at(0).at("state").as_string(), "success");
  EXPECT_EQ(state.at("statuses").at(0).at("sha").as_string(), kSha);
  EXPECT_EQ(state.at("statuses").at(0).at("target_url").as_string(), "http://t");
  github.Stop();
  std::filesystem::remove_all(dir);
}

TEST(FakeGithub, SpeaksGithubsErrorShapes) {
  FakeGithub github;
  ASSERT_TRUE(github.Start().ok());
  const auto get = [&](std::string path, std::string user_agent, std::string token) {
    http::ClientRequest request;
    request.url = github.base_url() + path;
    request.headers.Set("User-Agent", user_agent);  // empty: curl sends none
    if (!token.empty()) request.headers.Set("Authorization", "Bearer " + token);
    Result<http::ClientResponse> response = http::Fetch(request);
    EXPECT_TRUE(response.ok()) << response.error().message;
    return response.ok() ? *response : http::ClientResponse{};
  };
  const http::ClientResponse bad = get("/user", "t", "gho_nope");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(boost::json::parse(bad.body).at("message").as_string(), "Bad credentials");
  EXPECT_EQ(boost::json::parse(bad.body).at("documentation_url").as_string(),
            "https://docs.github.com/rest");
  EXPECT_EQ(get("/user", "t", "").status, 401);
  EXPECT_EQ(get("/user", "", github.IssueToken("octocat")).status, 403);
  const http::ClientResponse missing =
      get("/repos/octocat/nothing/contents/x", "t", github.IssueToken("octocat"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(boost::json::parse(missing.body).at("message").as_string(), "Not Found");
  // An unknown OAuth app gets GitHub's 404 page.
  EXPECT_EQ(get("/login/oauth/authorize?client_id=other&redirect_uri=http://x/cb", "t", "").status,
            404);
}

}  // namespace
}  // namespace replideploy::git

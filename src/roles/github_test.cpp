// GitHub end to end against the fake GitHub (tests/fake_github) and a real server on 127.0.0.1:
// connecting an account through the OAuth redirects, repositories and detection, sites whose
// webhook is created and deleted on GitHub, and webhook deliveries (GitHub's real payloads from
// src/git/testdata) with good, bad and missing signatures, duplicates, previews and forks.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "core/text.hpp"
#include "db/testing.hpp"
#include "fake_github/fake_github.hpp"
#include "git/webhook.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;
using db::testing::TestDatabase;

// `url` with its state parameter replaced.
std::string ReplaceState(const std::string& url, const std::string& state) {
  const auto at = url.find("state=");
  if (at == std::string::npos) return url;
  const auto end = url.find('&', at);
  return url.substr(0, at) + "state=" + state + (end == std::string::npos ? "" : url.substr(end));
}

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RD_GITHUB_FIXTURES) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Reply {
  int status = 0;
  json::value body;
  std::string raw;
  http::Headers headers;
};

class Github : public ::testing::TestWithParam<db::Engine> {
 protected:
  // Fixtures that build set the directories (and so start a worker).
  virtual void Customize(roles::PlatformOptions&) {}

  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    ASSERT_TRUE(github_.Start().ok());
    github_.AddUser("Codertocat");
    github_.AddRepo("Codertocat", "Hello-World", "master",
                    {{"package.json", R"({"scripts":{"build":"vite build"},)"
                                      R"("devDependencies":{"vite":"^5.0.0"}})"},
                     {"package-lock.json", "{}"}});
    roles::PlatformOptions options;
    options.users = {std::string(32, 'j'), 3600, core::PasswordCost::Minimum()};
    options.github = {github_.base_url(), github_.base_url(), "fake-client-id",
                      "fake-client-secret"};
    options.github_key = std::string(32, 'g');
    Customize(options);
    blobs_ = store::LocalBlobStore::Open(dir_.path() + "/store").value();
    app_ = std::make_unique<roles::Platform>(tdb_->db(), *blobs_, clock_, options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_ = std::make_unique<http::Server>(server_options, app_->Resolver());
    ASSERT_TRUE(server_->Listen().ok());
    app_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    token_ = SignUp();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  Reply Fetch(const std::string& method, const std::string& url, const std::string& body = {},
              http::Headers headers = {}) {
    http::ClientRequest request;
    request.method = method;
    request.url = url.starts_with("http") ? url : base_ + url;
    request.body = body;
    request.headers = std::move(headers);
    if (!request.headers.Has("User-Agent")) request.headers.Set("User-Agent", "Mozilla/5.0 (test)");
    auto response = http::Fetch(request);
    EXPECT_TRUE(response.ok());
    if (!response.ok()) return {};
    Reply reply{response->status, nullptr, response->body, response->headers};
    boost::system::error_code ec;
    reply.body = json::parse(response->body, ec);
    return reply;
  }
  Reply Call(const std::string& method, const std::string& path, const std::string& body = {}) {
    http::Headers h;
    h.Set("Authorization", "Bearer " + token_);
    if (!body.empty()) h.Set("Content-Type", "application/json");
    return Fetch(method, path, body, h);
  }
  std::string SignUp() {
    Fetch("POST", "/auth/register", R"({"email":"gh@example.com","password":"password123"})");
    Reply login =
        Fetch("POST", "/auth/login", R"({"email":"gh@example.com","password":"password123"})");
    return std::string(login.body.at("token").as_string());
  }
  // The OAuth dance a browser does: our connect -> GitHub's authorize -> our callback.
  std::string ConnectGithub() {
    http::Headers accept;
    accept.Set("Authorization", "Bearer " + token_);
    accept.Set("Accept", "application/json");
    Reply connect = Fetch("GET", "/api/v1/github/connect?return_to=/new/", "", accept);
    EXPECT_EQ(connect.status, 200) << connect.raw;
    const std::string authorize(connect.body.at("authorize_url").as_string());
    Reply to_callback = Fetch("GET", authorize);
    EXPECT_EQ(to_callback.status, 302) << to_callback.raw;
    http::Headers browser;
    browser.Set("Cookie", CookieOf(connect));
    Reply back = Fetch("GET", std::string(to_callback.headers.Get("Location")), "", browser);
    EXPECT_EQ(back.status, 302) << back.raw;
    return std::string(back.headers.Get("Location"));
  }
  // "name=value" of the response's Set-Cookie.
  static std::string CookieOf(const Reply& r) {
    const std::string_view set = r.headers.Get("Set-Cookie");
    return std::string(set.substr(0, set.find(';')));
  }
  // Starts a flow as the dashboard does: the cookie the browser got and GitHub's redirect back
  // to us (the callback URL with GitHub's code and our state).
  std::pair<std::string, std::string> StartFlow(const std::string& return_to = "/new/") {
    http::Headers accept;
    accept.Set("Authorization", "Bearer " + token_);
    accept.Set("Accept", "application/json");
    Reply connect =
        Fetch("GET", "/api/v1/github/connect?return_to=" + core::UrlEncode(return_to), "", accept);
    EXPECT_EQ(connect.status, 200) << connect.raw;
    if (connect.status != 200) return {};
    Reply to_callback = Fetch("GET", std::string(connect.body.at("authorize_url").as_string()));
    return {CookieOf(connect), std::string(to_callback.headers.Get("Location"))};
  }
  Reply Callback(const std::string& url, const std::string& cookie) {
    http::Headers h;
    if (!cookie.empty()) h.Set("Cookie", cookie);
    return Fetch("GET", url, "", h);
  }
  // A GitHub site for Codertocat/Hello-World; returns its id.
  std::string CreateGithubSite(const std::string& name, bool branch_deploys = false) {
    EXPECT_EQ(ConnectGithub(), "/new/?github=connected");
    json::object repo{{"provider", "github"},    {"repo_path", "Codertocat/Hello-World"},
                      {"repo_branch", "master"}, {"cmd", "npm run build"},
                      {"dir", "dist"},           {"branch_deploys", branch_deploys}};
    Reply site = Call("POST", "/api/v1/sites",
                      json::serialize(json::object{{"name", name}, {"repo", repo}}));
    EXPECT_EQ(site.status, 201) << site.raw;
    // The first build of the branch head, queued at creation (no worker runs here).
    baseline_ = Deploys(name).size();
    EXPECT_EQ(baseline_, 1u);
    return site.body.is_object() ? std::string(site.body.at("id").as_string()) : "";
  }
  // A delivery signed with `secret` (none when nullopt), as GitHub signs it.
  Reply Deliver(const std::string& site_id, const std::string& event, const std::string& body,
                const std::string& delivery, const std::optional<std::string>& secret) {
    return DeliverWithSignature(
        site_id, event, body, delivery,
        secret ? std::optional(git::GithubSignature(body, *secret)) : std::nullopt);
  }
  // A delivery with `signature` as its X-Hub-Signature-256 header (none when nullopt).
  Reply DeliverWithSignature(const std::string& site_id, const std::string& event,
                             const std::string& body, const std::string& delivery,
                             const std::optional<std::string>& signature) {
    clock_.Advance(1000);  // deploys of later deliveries sort as newer
    http::Headers h;
    h.Set("Content-Type", "application/json");
    h.Set("X-GitHub-Event", event);
    h.Set("X-GitHub-Delivery", delivery);
    h.Set("User-Agent", "GitHub-Hookshot/abc");
    if (signature) h.Set("X-Hub-Signature-256", *signature);
    return Fetch("POST", "/api/hooks/deploy?site_id=" + site_id, body, h);
  }
  static std::string ErrorCodeOf(const Reply& r) {
    return r.body.is_object() && r.body.as_object().contains("error")
               ? std::string(r.body.at("error").at("code").as_string())
               : "<no error body>";
  }
  std::int64_t CountRows(const std::string& table) {
    auto rows = tdb_->db().Exec("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(rows.ok() && !rows->empty());
    return rows.ok() && !rows->empty() ? rows->rows.front().Int(0) : -1;
  }
  std::string HookSecret() {
    auto hooks = github_.Hooks();
    return hooks.empty() ? "" : hooks.back().secret;
  }
  json::array Deploys(const std::string& site) {
    Reply r = Call("GET", "/api/v1/sites/" + site + "/deploys");
    return r.body.is_array() ? r.body.as_array() : json::array{};
  }

  fake_github::FakeGithub github_;
  core::ManualClock clock_{1'800'000'000'000};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<roles::Platform> app_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::string token_;
  std::size_t baseline_ = 0;
};

TEST_P(Github, ConnectThroughOAuthKeepsTheTokenSecret) {
  Reply before = Call("GET", "/api/v1/github/account");
  EXPECT_EQ(before.body.at("connected"), false);
  EXPECT_EQ(before.body.at("configured"), true);
  // Without JSON, connect is a redirect to GitHub's authorize page with a state.
  Reply redirect = Call("GET", "/api/v1/github/connect");
  EXPECT_EQ(redirect.status, 302);
  EXPECT_TRUE(
      redirect.headers.Get("Location").starts_with(github_.base_url() + "/login/oauth/authorize?"));
  EXPECT_NE(redirect.headers.Get("Location").find("state="), std::string_view::npos);

  EXPECT_EQ(ConnectGithub(), "/new/?github=connected");
  Reply after = Call("GET", "/api/v1/github/account");
  EXPECT_EQ(after.body.at("connected"), true) << after.raw;
  EXPECT_EQ(after.body.at("login"), "Codertocat");
  // The token GitHub issued is used for API calls but stored encrypted and never returned.
  std::string issued;
  for (const auto& r : github_.Requests()) {
    if (r.path == "/user") issued = std::string(r.headers.Get("Authorization")).substr(7);
  }
  ASSERT_FALSE(issued.empty());
  EXPECT_EQ(after.raw.find(issued), std::string::npos);
  auto stored = tdb_->db().Exec("SELECT token_enc FROM github_accounts");
  ASSERT_TRUE(stored.ok() && !stored->empty());
  EXPECT_EQ(stored->rows.front().Text(0).find(issued), std::string::npos);
  EXPECT_EQ(Call("GET", "/api/v1/github/repos").raw.find(issued), std::string::npos);

  // A forged state is refused, and so is one past its ten minutes.
  auto [cookie, callback] = StartFlow();
  Reply forged = Callback(ReplaceState(callback, "abc.def"), cookie);
  EXPECT_EQ(forged.status, 400);
  EXPECT_EQ(forged.body.at("error").at("code"), "invalid_state");
  std::tie(cookie, callback) = StartFlow();
  clock_.Advance(11 * 60 * 1000);
  Reply expired = Callback(callback, cookie);
  EXPECT_EQ(expired.status, 400);
  EXPECT_EQ(expired.body.at("error").at("code"), "invalid_state");

  // The user refusing on GitHub comes back as an error for the dashboard to show.
  std::tie(cookie, callback) = StartFlow("/account/");
  const std::string state = callback.substr(callback.find("state="));
  Reply denied = Callback(base_ + "/api/v1/github/callback?error=access_denied&" + state, cookie);
  EXPECT_EQ(denied.status, 302);
  EXPECT_TRUE(denied.headers.Get("Location").starts_with("/account/?github_error="));

  EXPECT_EQ(Call("DELETE", "/api/v1/github/account").status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/github/account").body.at("connected"), false);
  EXPECT_EQ(Call("GET", "/api/v1/github/repos").body.at("error").at("code"),
            "github_not_connected");
}

// Issue 10: a victim who opens an attacker's authorize link must not link the victim's GitHub
// token to the attacker's account. The state only works in the browser that started the flow
// (its cookie), and only once.
TEST_P(Github, OAuthStateIsSingleUseAndBoundToTheBrowserThatStartedIt) {
  auto [cookie, callback] = StartFlow();
  ASSERT_FALSE(cookie.empty());
  Reply started = [&] {
    http::Headers accept;
    accept.Set("Authorization", "Bearer " + token_);
    accept.Set("Accept", "application/json");
    return Fetch("GET", "/api/v1/github/connect", "", accept);
  }();
  const std::string set_cookie(started.headers.Get("Set-Cookie"));
  EXPECT_TRUE(set_cookie.starts_with("rd_github_oauth=")) << set_cookie;
  for (std::string_view attribute :
       {"; HttpOnly", "; SameSite=Lax", "; Path=/api/v1/github/callback", "; Max-Age=600"}) {
    EXPECT_NE(set_cookie.find(attribute), std::string::npos) << set_cookie;
  }

  // The victim's browser has no cookie of the attacker's flow (or one of its own flow).
  Reply victim = Callback(callback, "");
  EXPECT_EQ(victim.status, 400) << victim.raw;
  EXPECT_EQ(ErrorCodeOf(victim), "invalid_state");
  EXPECT_EQ(CountRows("github_accounts"), 0);
  // The state was used up by that attempt: not even the right browser can use it now.
  EXPECT_EQ(Callback(callback, cookie).status, 400);
  EXPECT_EQ(CountRows("github_accounts"), 0);

  // Another browser's cookie does not fit.
  auto [cookie2, callback2] = StartFlow();
  auto [cookie3, callback3] = StartFlow();
  EXPECT_EQ(Callback(callback2, cookie3).status, 400);
  EXPECT_EQ(CountRows("github_accounts"), 0);

  // The browser that started it connects, once; the callback clears the cookie.
  Reply connected = Callback(callback3, cookie3);
  EXPECT_EQ(connected.status, 302) << connected.raw;
  EXPECT_EQ(connected.headers.Get("Location"), "/new/?github=connected");
  EXPECT_NE(connected.headers.Get("Set-Cookie").find("Max-Age=0"), std::string_view::npos);
  EXPECT_EQ(CountRows("github_accounts"), 1);
  Reply replay = Callback(callback3, cookie3);
  EXPECT_EQ(replay.status, 400);
  EXPECT_EQ(ErrorCodeOf(replay), "invalid_state");
}

// Issue 10: "/\t/evil.example" became "//evil.example" in browsers.
TEST_P(Github, ReturnPathsStayOnOurOrigin) {
  http::Headers accept;
  accept.Set("Authorization", "Bearer " + token_);
  accept.Set("Accept", "application/json");
  for (const std::string bad : {"/\t/evil.example", "//evil.example", "/\\evil.example",
                                "https://evil.example/", "/%2F/evil.example", "/\n/evil"}) {
    Reply r = Fetch("GET", "/api/v1/github/connect?return_to=" + core::UrlEncode(bad), "", accept);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.raw;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_return_to") << bad;
  }
  auto [cookie, callback] = StartFlow("/sites/x/?tab=settings");
  Reply back = Callback(callback, cookie);
  EXPECT_EQ(back.headers.Get("Location"), "/sites/x/?tab=settings&github=connected");
}

TEST_P(Github, ReposDetectionAndRevokedToken) {
  ConnectGithub();
  Reply repos = Call("GET", "/api/v1/github/repos");
  ASSERT_EQ(repos.status, 200) << repos.raw;
  ASSERT_EQ(repos.body.as_array().size(), 1u);
  EXPECT_EQ(repos.body.as_array()[0].at("full_name"), "Codertocat/Hello-World");
  EXPECT_EQ(repos.body.as_array()[0].at("default_branch"), "master");
  Reply detect = Call("GET", "/api/v1/github/repos/Codertocat/Hello-World/detect?ref=master");
  ASSERT_EQ(detect.status, 200) << detect.raw;
  EXPECT_EQ(detect.body.at("framework"), "vite");
  EXPECT_EQ(detect.body.at("package_manager"), "npm");
  EXPECT_EQ(detect.body.at("cmd"), "npm run build");
  EXPECT_EQ(detect.body.at("dir"), "dist");
  EXPECT_EQ(Call("GET", "/api/v1/github/repos/..%2Fx/y/detect").status, 404);

  for (const auto& r : github_.Requests()) {
    if (r.path == "/user")
      github_.RevokeToken(std::string(r.headers.Get("Authorization")).substr(7));
  }
  Reply revoked = Call("GET", "/api/v1/github/repos");
  EXPECT_EQ(revoked.status, 403) << revoked.raw;
  EXPECT_EQ(revoked.body.at("error").at("code"), "github_reconnect");
  EXPECT_NE(std::string(revoked.body.at("error").at("message").as_string()).find("econnect"),
            std::string::npos);
}

TEST_P(Github, SiteFromRepoCreatesItsHookAndDeletingTheSiteDeletesIt) {
  const std::string site_id = CreateGithubSite("hello");
  ASSERT_FALSE(site_id.empty());
  auto hooks = github_.Hooks();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].repo, "Codertocat/Hello-World");
  EXPECT_EQ(hooks[0].url, app_->app().PublicUrl("/api/hooks/deploy?site_id=" + site_id));
  EXPECT_EQ(hooks[0].events, (std::vector<std::string>{"push", "pull_request"}));
  EXPECT_EQ(hooks[0].content_type, "json");
  EXPECT_GE(hooks[0].secret.size(), 32u);
  Reply site = Call("GET", "/api/v1/sites/hello");
  EXPECT_EQ(site.body.at("build_settings").at("provider"), "github");
  EXPECT_EQ(site.body.at("build_settings").at("repo_path"), "Codertocat/Hello-World");
  EXPECT_EQ(site.raw.find(hooks[0].secret), std::string::npos) << "the secret stays ours";

  // A repository the user cannot see: no hook, and no half-made site.
  Reply hidden = Call("POST", "/api/v1/sites",
                      R"({"name":"nope","repo":{"provider":"github","repo_path":"someone/else"}})");
  EXPECT_EQ(hidden.status, 422) << hidden.raw;
  EXPECT_EQ(Call("GET", "/api/v1/sites/nope").status, 404);
  Reply bad =
      Call("POST", "/api/v1/sites", R"({"repo":{"provider":"github","repo_path":"../../etc"}})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.body.at("error").at("code"), "invalid_repo");

  EXPECT_EQ(Call("DELETE", "/api/v1/sites/hello").status, 204);
  EXPECT_TRUE(github_.Hooks().empty());
}

TEST_P(Github, DeliveriesAreVerifiedDedupedAndDecided) {
  const std::string site_id = CreateGithubSite("hello");
  const std::string secret = HookSecret();
  ASSERT_FALSE(secret.empty());

  // Signatures: missing, wrong secret, tampered body: 401, and nothing is queued.
  const std::string push = Fixture("push-with-new-branch.payload.json");
  const std::int64_t jobs_before = CountRows("build_jobs");
  const std::int64_t deliveries_before = CountRows("webhook_deliveries");
  Reply unsigned_push = Deliver(site_id, "push", push, "d-0", std::nullopt);
  EXPECT_EQ(unsigned_push.status, 401);
  EXPECT_EQ(ErrorCodeOf(unsigned_push), "invalid_signature");
  EXPECT_EQ(Deliver(site_id, "push", push, "d-0", std::string("wrong")).status, 401);
  // The site's real signature of the push, over a body with one byte changed: still a valid
  // push to the production branch (another commit), which would be queued if it got through.
  std::string tampered_body = push;
  const std::size_t commit_at = tampered_body.find("6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  ASSERT_NE(commit_at, std::string::npos);
  tampered_body[commit_at] = '7';
  Reply tampered = DeliverWithSignature(site_id, "push", tampered_body, "d-1",
                                        git::GithubSignature(push, secret));
  EXPECT_EQ(tampered.status, 401) << tampered.raw;
  EXPECT_EQ(ErrorCodeOf(tampered), "invalid_signature");
  EXPECT_EQ(Deploys("hello").size(), baseline_);
  EXPECT_EQ(CountRows("build_jobs"), jobs_before) << "nothing queued";
  EXPECT_EQ(CountRows("webhook_deliveries"), deliveries_before) << "no delivery recorded";

  EXPECT_EQ(Deliver(site_id, "ping", Fixture("ping-payload.json"), "d-ping", secret).status, 200);
  EXPECT_EQ(Deploys("hello").size(), baseline_);

  // A push to the production branch: a queued production deploy, at once.
  Reply queued = Deliver(site_id, "push", push, "d-1", secret);
  ASSERT_EQ(queued.status, 202) << queued.raw;
  EXPECT_EQ(queued.body.at("action"), "production_deploy");
  auto deploys = Deploys("hello");
  ASSERT_EQ(deploys.size(), baseline_ + 1);
  EXPECT_EQ(deploys[0].at("state"), "queued");
  EXPECT_EQ(deploys[0].at("context"), "production");
  EXPECT_EQ(deploys[0].at("commit_ref"), "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
  EXPECT_EQ(deploys[0].at("commit_url"),
            json::value(github_.base_url() +
                        "/Codertocat/Hello-World/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246"));

  // The same delivery again (GitHub's redelivery) starts nothing.
  Reply again = Deliver(site_id, "push", push, "d-1", secret);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body.at("duplicate"), true);
  EXPECT_EQ(Deploys("hello").size(), baseline_ + 1);

  // A tag deletion: nothing.
  Reply tag = Deliver(site_id, "push", Fixture("push-payload.json"), "d-2", secret);
  EXPECT_EQ(tag.status, 200);
  EXPECT_EQ(tag.body.at("action"), "none");
  EXPECT_EQ(Deploys("hello").size(), baseline_ + 1);

  // Well signed but not JSON: a clear 400.
  Reply junk = Deliver(site_id, "push", "{not json", "d-3", secret);
  EXPECT_EQ(junk.status, 400);
  EXPECT_EQ(Deliver("no-such-site", "push", push, "d-4", secret).status, 404);
}

TEST_P(Github, PullRequestsGetPreviewsUntilClosedAndForksGetNoSecrets) {
  const std::string site_id = CreateGithubSite("hello");
  const std::string secret = HookSecret();
  Reply opened =
      Deliver(site_id, "pull_request", Fixture("pull_request-opened.payload.json"), "p-1", secret);
  ASSERT_EQ(opened.status, 202) << opened.raw;
  EXPECT_EQ(opened.body.at("action"), "deploy_preview");
  auto deploys = Deploys("hello");
  ASSERT_EQ(deploys.size(), baseline_ + 1);
  EXPECT_EQ(deploys[0].at("context"), "deploy-preview");
  EXPECT_EQ(deploys[0].at("review_id"), 2);
  EXPECT_EQ(deploys[0].at("branch"), "changes");
  EXPECT_NE(
      std::string(deploys[0].at("links").at("alias").as_string()).find("deploy-preview-2--hello."),
      std::string::npos);
  EXPECT_EQ(deploys[0].at("review_url"),
            json::value(github_.base_url() + "/Codertocat/Hello-World/pull/2"));
  const std::string first_preview(deploys[0].at("id").as_string());

  // New commits: a new preview supersedes the one still queued.
  Reply sync = Deliver(site_id, "pull_request", Fixture("pull_request-synchronize.payload.json"),
                       "p-2", secret);
  ASSERT_EQ(sync.status, 202) << sync.raw;
  Reply old = Call("GET", "/api/v1/deploys/" + first_preview);
  EXPECT_EQ(old.body.at("state"), "error");
  EXPECT_EQ(old.body.at("error_message"), "superseded by a newer push");

  // Closed: the queued preview stops, and late deliveries for it build nothing.
  Reply closed =
      Deliver(site_id, "pull_request", Fixture("pull_request-closed.payload.json"), "p-3", secret);
  EXPECT_EQ(closed.status, 200) << closed.raw;
  EXPECT_EQ(closed.body.at("action"), "stop_previews");
  EXPECT_EQ(closed.body.at("canceled"), 1);
  const std::size_t count = Deploys("hello").size();
  Reply late = Deliver(site_id, "pull_request", Fixture("pull_request-synchronize.payload.json"),
                       "p-4", secret);
  EXPECT_EQ(late.status, 200);
  EXPECT_EQ(late.body.at("action"), "none");
  EXPECT_EQ(Deploys("hello").size(), count);

  // A pull request from a fork: built, but without the site's secret variables.
  json::value fork = json::parse(Fixture("pull_request-opened.payload.json"));
  fork.at("pull_request").at("head").at("repo").as_object()["full_name"] = "mallory/Hello-World";
  fork.at("pull_request").as_object()["number"] = 7;
  fork.as_object()["number"] = 7;
  Reply forked = Deliver(site_id, "pull_request", json::serialize(fork), "p-5", secret);
  ASSERT_EQ(forked.status, 202) << forked.raw;
  auto jobs = tdb_->db().Exec(
      "SELECT allow_secrets, context, review_id FROM build_jobs WHERE "
      "deploy_id = ?",
      {std::string(forked.body.at("deploy_id").as_string())});
  ASSERT_TRUE(jobs.ok() && !jobs->empty());
  EXPECT_FALSE(jobs->rows.front().Bool(0));
  EXPECT_EQ(jobs->rows.front().Text(1), "deploy-preview");
  EXPECT_EQ(jobs->rows.front().Int(2), 7);
}

TEST_P(Github, BranchPushesFollowTheSiteSetting) {
  const std::string site_id = CreateGithubSite("hello");
  const std::string secret = HookSecret();
  json::value push = json::parse(Fixture("push-with-new-branch.payload.json"));
  push.as_object()["ref"] = "refs/heads/feature";
  Reply off = Deliver(site_id, "push", json::serialize(push), "b-1", secret);
  EXPECT_EQ(off.status, 200);
  EXPECT_EQ(off.body.at("action"), "none");
  EXPECT_EQ(
      Call("PATCH", "/api/v1/sites/hello", R"({"build_settings":{"branch_deploys":true}})").status,
      200);
  Reply on = Deliver(site_id, "push", json::serialize(push), "b-2", secret);
  ASSERT_EQ(on.status, 202) << on.raw;
  EXPECT_EQ(on.body.at("context"), "branch-deploy");
  // The repository itself cannot be swapped under the hook.
  EXPECT_EQ(
      Call("PATCH", "/api/v1/sites/hello", R"({"build_settings":{"repo_path":"mallory/evil"}})")
          .status,
      422);
}

TEST_P(Github, GitUrlsMustBePublicAndReadable) {
  for (const char* url : {"https://user:pw@example.com/x.git", "file:///etc", "ssh://h/x.git"}) {
    Reply r = Call("POST", "/api/v1/sites",
                   json::serialize(json::object{
                       {"repo", json::object{{"provider", "git"}, {"repo_url", url}}}}));
    EXPECT_EQ(r.status, 422) << url;
    EXPECT_EQ(r.body.at("error").at("code"), "invalid_repo_url") << url;
  }
  // The fake's repository is on loopback: refused unless the operator allows private hosts.
  Reply loopback =
      Call("POST", "/api/v1/sites",
           json::serialize(json::object{
               {"repo",
                json::object{{"provider", "git"},
                             {"repo_url", github_.base_url() + "/Codertocat/Hello-World.git"}}}}));
  EXPECT_EQ(loopback.status, 422);
  EXPECT_EQ(loopback.body.at("error").at("code"), "non_public_host");
  EXPECT_TRUE(Call("GET", "/api/v1/sites").body.as_array().empty()) << "no half-made site";
}

INSTANTIATE_TEST_SUITE_P(Engines, Github, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

// Builds for real: a worker, the bubblewrap sandbox (needs root), git over the fake's smart
// HTTP.
class GithubBuilds : public Github {
 protected:
  void Customize(roles::PlatformOptions& options) override {
    options.repos_dir = dir_.path() + "/repos";
    options.builds_dir = dir_.path() + "/builds";
    options.cache_dir = dir_.path() + "/cache";
    options.processor_interval = std::chrono::milliseconds(50);
    options.git_poll_interval = std::chrono::milliseconds(0);  // the test polls
  }
  // Waits for a deploy of `site` other than those in `known` to end; returns it. (The test's
  // clock stands still, so deploys cannot be told apart by time.)
  json::value WaitForNewDeploy(const std::string& site, std::set<std::string> known = {}) {
    for (int i = 0; i < 1200; ++i) {
      for (const auto& d : Deploys(site)) {
        if (known.contains(std::string(d.at("id").as_string()))) continue;
        const auto state = d.at("state").as_string();
        if (state == "ready" || state == "error") return d;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no deploy ended: " << json::serialize(Deploys(site));
    return json::object{{"id", ""}, {"state", "timeout"}, {"commit_ref", ""}};
  }
  std::string Serve(const std::string& host) {
    http::ClientRequest r;
    r.url = base_ + "/";
    r.headers.Set("Host", host);
    auto got = http::Fetch(r);
    return got.ok() ? got->body : "";
  }
  std::string PushPayload(const std::string& repo, const std::string& sha) {
    json::value push = json::parse(Fixture("push-with-new-branch.payload.json"));
    push.at("repository").as_object()["full_name"] = repo;
    push.as_object()["ref"] = "refs/heads/main";
    push.as_object()["after"] = sha;
    push.at("head_commit").as_object()["id"] = sha;
    return json::serialize(push);
  }
  // The statuses of `sha`, once there are two (the worker reports the end after the deploy's
  // state changed, so a test may look a moment before it).
  std::vector<fake_github::FakeStatus> StatusesOf(const std::string& sha) {
    std::vector<fake_github::FakeStatus> out;
    core::testing::WaitUntil([&] {
      out.clear();
      for (auto& st : github_.Statuses()) {
        if (st.sha == sha) out.push_back(st);
      }
      return out.size() >= 2;
    });
    return out;
  }
};

TEST_P(GithubBuilds, PrivateRepoBuildsOnPushWithStatusesAndFunctions) {
  github_.AddRepo(
      "Codertocat", "site", "main",
      {{"index.html", "<h1>v1</h1>"},
       {"netlify.toml",
        "[build]\n  command = \"mkdir -p out && cp index.html out/ && echo built $CONTEXT\"\n"
        "  publish = \"out\"\n"},
       {"netlify/functions/hello.js", "export default () => new Response('hi')"}},
      /*is_private=*/true);
  ASSERT_EQ(ConnectGithub(), "/new/?github=connected");
  Reply created = Call(
      "POST", "/api/v1/sites",
      R"({"name":"gh-site","repo":{"provider":"github","repo_path":"Codertocat/site","repo_branch":"main"}})");
  ASSERT_EQ(created.status, 201) << created.raw;

  // The first build: the head of main, fetched with the owner's token.
  json::value first = WaitForNewDeploy("gh-site");
  ASSERT_TRUE(first.is_object());
  ASSERT_EQ(first.at("state"), "ready") << json::serialize(first);
  EXPECT_EQ(Serve("gh-site.localhost"), "<h1>v1</h1>");
  const std::string head1 = github_.HeadSha("Codertocat", "site", "main");
  EXPECT_EQ(first.at("commit_ref"), json::value(head1));
  bool authorized_fetch = false;
  for (const auto& r : github_.Requests()) {
    if (r.path.ends_with("/git-upload-pack") &&
        r.headers.Get("Authorization").starts_with("Basic")) {
      authorized_fetch = true;
    }
  }
  EXPECT_TRUE(authorized_fetch) << "the private repository was fetched with the token";
  auto statuses = StatusesOf(head1);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].state, "pending");
  EXPECT_EQ(statuses[1].state, "success");
  EXPECT_NE(statuses[1].target_url.find(std::string(first.at("id").as_string()) + "--gh-site."),
            std::string::npos)
      << statuses[1].target_url;
  EXPECT_EQ(statuses[1].context, "replideploy/gh-site/production");
  auto functions =
      tdb_->db().Exec("SELECT name, runtime, uploaded FROM deploy_functions WHERE deploy_id = ?",
                      {std::string(first.at("id").as_string())});
  ASSERT_TRUE(functions.ok());
  ASSERT_EQ(functions->rows.size(), 1u);
  EXPECT_EQ(functions->rows[0].Text(0), "hello");
  const std::string log =
      Call("GET", "/api/v1/deploys/" + std::string(first.at("id").as_string()) + "/log").raw;
  EXPECT_NE(log.find("built production"), std::string::npos) << log;
  EXPECT_NE(log.find("Packaged 1 function"), std::string::npos) << log;
  for (const auto& r : github_.Requests()) {
    if (r.path != "/user") continue;
    const std::string token = std::string(r.headers.Get("Authorization")).substr(7);
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(log.find(token), std::string::npos) << "the token never reaches the log";
  }

  // A push: the webhook builds that exact commit.
  const std::string head2 =
      github_.PushCommit("Codertocat", "site", "main", {{"index.html", "<h1>v2</h1>"}}, "v2");
  Reply delivered = Deliver(std::string(created.body.at("id").as_string()), "push",
                            PushPayload("Codertocat/site", head2), "push-2", HookSecret());
  ASSERT_EQ(delivered.status, 202) << delivered.raw;
  json::value second = WaitForNewDeploy("gh-site", {std::string(first.at("id").as_string())});
  ASSERT_EQ(second.at("state"), "ready") << json::serialize(second);
  EXPECT_EQ(second.at("commit_ref"), json::value(head2));
  EXPECT_EQ(Serve("gh-site.localhost"), "<h1>v2</h1>");
  ASSERT_EQ(StatusesOf(head2).size(), 2u);
  EXPECT_EQ(StatusesOf(head2)[1].state, "success");

  // A failing build: failure status pointing at the log; the site keeps serving v2.
  const std::string head3 = github_.PushCommit(
      "Codertocat", "site", "main",
      {{"netlify.toml", "[build]\n  command = \"echo broken; exit 3\"\n"}}, "broken");
  ASSERT_EQ(Deliver(std::string(created.body.at("id").as_string()), "push",
                    PushPayload("Codertocat/site", head3), "push-3", HookSecret())
                .status,
            202);
  json::value third = WaitForNewDeploy("gh-site", {std::string(first.at("id").as_string()),
                                                   std::string(second.at("id").as_string())});
  EXPECT_EQ(third.at("state"), "error");
  auto failed = StatusesOf(head3);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[1].state, "failure");
  EXPECT_NE(failed[1].description.find("status 3"), std::string::npos) << failed[1].description;
  EXPECT_NE(failed[1].target_url.find("/sites/gh-site/deploys/"), std::string::npos);
  EXPECT_EQ(Serve("gh-site.localhost"), "<h1>v2</h1>");

  // A pull request: built and served at its own preview URL; production stays, and the PR's
  // branch is no branch deploy.
  // (Branched from main, whose build is broken by now: the PR fixes it.)
  const std::string pr_head = github_.PushCommit(
      "Codertocat", "site", "feature",
      {{"index.html", "<h1>preview</h1>"},
       {"netlify.toml",
        "[build]\n  command = \"mkdir -p out && cp index.html out/\"\n  publish = \"out\"\n"}},
      "pr");
  json::value pr = json::parse(Fixture("pull_request-opened.payload.json"));
  pr.as_object()["number"] = 5;
  pr.at("pull_request").as_object()["number"] = 5;
  pr.at("repository").as_object()["full_name"] = "Codertocat/site";
  auto& head = pr.at("pull_request").at("head").as_object();
  head["sha"] = pr_head;
  head["ref"] = "feature";
  head.at("repo").as_object()["full_name"] = "Codertocat/site";
  ASSERT_EQ(Deliver(std::string(created.body.at("id").as_string()), "pull_request",
                    json::serialize(pr), "pr-5", HookSecret())
                .status,
            202);
  json::value preview = WaitForNewDeploy(
      "gh-site", {std::string(first.at("id").as_string()), std::string(second.at("id").as_string()),
                  std::string(third.at("id").as_string())});
  ASSERT_EQ(preview.at("state"), "ready") << json::serialize(preview);
  EXPECT_EQ(preview.at("context"), "deploy-preview");
  EXPECT_EQ(Serve("deploy-preview-5--gh-site.localhost"), "<h1>preview</h1>");
  EXPECT_EQ(Serve("gh-site.localhost"), "<h1>v2</h1>");
  EXPECT_NE(Serve("feature--gh-site.localhost"), "<h1>preview</h1>");
  auto preview_status = StatusesOf(pr_head);
  ASSERT_EQ(preview_status.size(), 2u);
  EXPECT_EQ(preview_status[1].context, "replideploy/gh-site/deploy-preview");

  // The owner revoked the app on GitHub: the private repository cannot be fetched, and the
  // deploy says what to do.
  for (const auto& r : github_.Requests()) {
    if (r.path == "/user")
      github_.RevokeToken(std::string(r.headers.Get("Authorization")).substr(7));
  }
  const std::string head4 =
      github_.PushCommit("Codertocat", "site", "main", {{"index.html", "<h1>v4</h1>"}}, "v4");
  ASSERT_EQ(Deliver(std::string(created.body.at("id").as_string()), "push",
                    PushPayload("Codertocat/site", head4), "push-4", HookSecret())
                .status,
            202);
  json::value fourth = WaitForNewDeploy(
      "gh-site",
      {std::string(first.at("id").as_string()), std::string(second.at("id").as_string()),
       std::string(third.at("id").as_string()), std::string(preview.at("id").as_string())});
  EXPECT_EQ(fourth.at("state"), "error") << json::serialize(Deploys("gh-site"));
  EXPECT_NE(std::string(fourth.at("error_message").as_string()).find("reconnect GitHub"),
            std::string::npos)
      << json::serialize(fourth);
  EXPECT_EQ(Serve("gh-site.localhost"), "<h1>v2</h1>");
}

class GitUrlBuilds : public GithubBuilds {
 protected:
  void Customize(roles::PlatformOptions& options) override {
    GithubBuilds::Customize(options);
    options.allow_private_git = true;  // the "public" host is the fake on loopback
  }
};

TEST_P(GitUrlBuilds, FollowsAPublicGitUrlAndPollsForNewCommits) {
  github_.AddRepo("someone", "public-site", "main", {{"index.html", "<h1>p1</h1>"}});
  const std::string url = github_.base_url() + "/someone/public-site.git";
  Reply created = Call(
      "POST", "/api/v1/sites",
      json::serialize(json::object{
          {"name", "follower"}, {"repo", json::object{{"provider", "git"}, {"repo_url", url}}}}));
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body.at("build_settings").at("provider"), "git");
  json::value first = WaitForNewDeploy("follower");
  ASSERT_EQ(first.at("state"), "ready") << json::serialize(first);
  EXPECT_EQ(Serve("follower.localhost"), "<h1>p1</h1>");
  // A git-URL site is not a GitHub site, even when the URL is on the configured GitHub.
  const std::string log =
      Call("GET", "/api/v1/deploys/" + std::string(first.at("id").as_string()) + "/log").raw;
  EXPECT_EQ(log.find("GitHub connection"), std::string::npos) << log;
  EXPECT_EQ(app_->builds().PollGitSources(), 0) << "nothing new";

  const std::string head =
      github_.PushCommit("someone", "public-site", "main", {{"index.html", "<h1>p2</h1>"}}, "p2");
  EXPECT_EQ(app_->builds().PollGitSources(), 1);
  EXPECT_EQ(app_->builds().PollGitSources(), 0) << "a commit is built once";
  json::value second = WaitForNewDeploy("follower", {std::string(first.at("id").as_string())});
  ASSERT_EQ(second.at("state"), "ready");
  EXPECT_EQ(second.at("commit_ref"), json::value(head));
  EXPECT_EQ(Serve("follower.localhost"), "<h1>p2</h1>");

  // "Trigger deploy" builds the branch head again.
  Reply trigger = Call("POST", "/api/v1/sites/follower/builds");
  ASSERT_EQ(trigger.status, 201) << trigger.raw;
  EXPECT_EQ(trigger.body.at("sha"), json::value(head));
  // A branch that does not exist: a clear error, and no site.
  Reply missing =
      Call("POST", "/api/v1/sites",
           json::serialize(json::object{
               {"repo",
                json::object{{"provider", "git"}, {"repo_url", url}, {"repo_branch", "nope"}}}}));
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.body.at("error").at("code"), "branch_not_found");
}

INSTANTIATE_TEST_SUITE_P(Engines, GithubBuilds, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);
INSTANTIATE_TEST_SUITE_P(Engines, GitUrlBuilds, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api

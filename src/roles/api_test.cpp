// The API against a real server on 127.0.0.1 port 0, on SQLite and on PostgreSQL.
#include <arpa/inet.h>
#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "auth/jwt.hpp"
#include "core/crypto.hpp"
#include "core/testing.hpp"
#include "db/testing.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "roles/api_calls_testing.hpp"
#include "roles/roles.hpp"
#include "store/testing.hpp"

namespace replideploy::api {
namespace {

namespace json = boost::json;

std::string BrotliDecoded(const std::string& data) {
  BrotliDecoderState* state = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  std::string out;
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t avail_in = data.size();
  BrotliDecoderResult rc = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
  while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
    char buffer[4096];
    auto* next_out = reinterpret_cast<std::uint8_t*>(buffer);
    std::size_t avail_out = sizeof(buffer);
    rc = BrotliDecoderDecompressStream(state, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(buffer, sizeof(buffer) - avail_out);
  }
  BrotliDecoderDestroyInstance(state);
  EXPECT_EQ(rc, BROTLI_DECODER_RESULT_SUCCESS);
  return out;
}

std::string GzipDecoded(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);  // gzip only
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    char buffer[4096];
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - zs.avail_out);
  }
  inflateEnd(&zs);
  EXPECT_EQ(rc, Z_STREAM_END);
  return out;
}
using db::testing::TestDatabase;

const std::string kJwtKey(32, 'j');

using Reply = roles::ApiReply;

class Api : public ::testing::TestWithParam<db::Engine>, protected roles::ApiCalls {
 protected:
  void SetUp() override {
    core::InitCrypto();
    tdb_ = std::make_unique<TestDatabase>(GetParam());
    RD_SKIP_IF_UNAVAILABLE(*tdb_);
    roles::PlatformOptions options;
    options.users = {kJwtKey, 3600, core::PasswordCost::Minimum()};
    options.processor_interval = std::chrono::milliseconds(50);
    blobs_ = store::LocalBlobStore::Open(dir_.path()).value();
    app_ = std::make_unique<roles::Platform>(tdb_->db(), *blobs_, clock_, options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.shutdown_grace = std::chrono::seconds(5);
    server_ = std::make_unique<http::Server>(server_options, app_->Resolver());
    ASSERT_TRUE(server_->Listen().ok());
    app_->SetPublicPort(server_->port());
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Deploys `files` through the digest API the way netlify-cli does; waits until ready.
  std::string Deploy(const std::string& token, const std::string& site,
                     const std::map<std::string, std::string>& files, bool draft,
                     const std::string& branch = {}) {
    json::object create{{"draft", draft}};
    if (!branch.empty()) create["branch"] = branch;
    Reply created = CallJson("POST", "/api/v1/sites/" + site + "/deploys", create, token);
    EXPECT_EQ(created.status, 200) << created.raw;
    const std::string id(created.body.at("id").as_string());
    json::object digests;
    for (const auto& [path, content] : files) digests[path] = core::HexEncode(core::Sha1(content));
    Reply prepared = CallJson("PUT", "/api/v1/sites/" + site + "/deploys/" + id,
                              json::object{{"files", digests}}, token);
    EXPECT_EQ(prepared.status, 200) << prepared.raw;
    for (const auto& [path, content] : files) {
      Reply up = Call("PUT", "/api/v1/deploys/" + id + "/files/" + path, content, token);
      EXPECT_EQ(up.status, 200) << up.raw;
    }
    Reply d;
    std::string state;
    core::testing::WaitUntil([&] {
      d = Call("GET", "/api/v1/sites/" + site + "/deploys/" + id, "", token);
      state = d.body.is_object() ? std::string(d.body.at("state").as_string()) : "";
      return state == "ready" || state == "error";
    });
    if (state != "ready") ADD_FAILURE() << "deploy never became ready: " << d.raw;
    return id;
  }

  static std::string ErrorCodeOf(const Reply& r) {
    if (!r.body.is_object() || !r.body.as_object().contains("error")) return "<no error body>";
    return std::string(r.body.at("error").at("code").as_string());
  }
  static void ExpectErrorShape(const Reply& r) {
    ASSERT_TRUE(r.body.is_object()) << r.raw;
    const json::value& e = r.body.at("error");
    EXPECT_TRUE(e.at("code").is_string());
    EXPECT_TRUE(e.at("message").is_string());
    EXPECT_FALSE(e.at("message").as_string().empty());
  }

  core::ManualClock clock_{1'800'000'000'000};
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<store::LocalBlobStore> blobs_;
  std::unique_ptr<roles::Platform> app_;
  std::unique_ptr<http::Server> server_;
};

TEST_P(Api, HealthAndReadiness) {
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  Reply ready = Call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body.at("status").as_string(), "ready");
}

TEST_P(Api, RegisterLoginAndCurrentUser) {
  Reply reg = CallJson("POST", "/auth/register",
                       json::object{{"email", "Ann@Example.com"}, {"password", "password123"}});
  ASSERT_EQ(reg.status, 201) << reg.raw;
  EXPECT_EQ(reg.body.at("email").as_string(), "ann@example.com");
  EXPECT_EQ(reg.raw.find("password"), std::string::npos) << "hash must never leave the server";
  EXPECT_EQ(reg.raw.find("argon2"), std::string::npos);

  Reply login = CallJson("POST", "/auth/login",
                         json::object{{"email", "ann@example.com"}, {"password", "password123"}});
  ASSERT_EQ(login.status, 200) << login.raw;
  const std::string token(login.body.at("token").as_string());
  EXPECT_EQ(login.body.at("user").at("id"), reg.body.at("id"));
  EXPECT_EQ(login.raw.find("argon2"), std::string::npos);

  Reply me = Call("GET", "/api/v1/user", "", token);
  ASSERT_EQ(me.status, 200) << me.raw;
  EXPECT_EQ(me.body.at("email").as_string(), "ann@example.com");
  EXPECT_EQ(Call("GET", "/api/v1/user").status, 401);
}

TEST_P(Api, RegisterErrorsNameTheField) {
  Reply missing = CallJson("POST", "/auth/register", json::object{{"email", "a@example.com"}});
  EXPECT_EQ(missing.status, 400);
  ExpectErrorShape(missing);
  EXPECT_NE(missing.body.at("error").at("message").as_string().find("password"), std::string::npos);

  Reply wrong_type =
      CallJson("POST", "/auth/register", json::object{{"email", 42}, {"password", "password123"}});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.body.at("error").at("message").as_string(), "email must be a string");

  Reply bad_email = CallJson("POST", "/auth/register",
                             json::object{{"email", "nope"}, {"password", "password123"}});
  EXPECT_EQ(bad_email.status, 422);
  EXPECT_EQ(ErrorCodeOf(bad_email), "invalid_email");

  Reply short_pw = CallJson("POST", "/auth/register",
                            json::object{{"email", "a@example.com"}, {"password", "1234567"}});
  EXPECT_EQ(short_pw.status, 422);
  EXPECT_EQ(ErrorCodeOf(short_pw), "password_too_short");

  SignUp("taken@example.com");
  Reply taken = CallJson("POST", "/auth/register",
                         json::object{{"email", "TAKEN@example.com"}, {"password", "password123"}});
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(ErrorCodeOf(taken), "email_taken");
}

TEST_P(Api, TruncatedAndNonObjectJsonIs400) {
  for (std::string body : {R"({"email":"a@example.com","pass)", "[1,2]", "{", "\xff\xfe"}) {
    Reply r = Call("POST", "/auth/register", body);
    EXPECT_EQ(r.status, 400) << body;
    ExpectErrorShape(r);
  }
}

TEST_P(Api, TwoMegabyteBodyIs413) {
  std::string huge = R"({"email":"a@example.com","password":")" + std::string(2 << 20, 'x') + "\"}";
  Reply r = Call("POST", "/auth/register", huge);
  EXPECT_EQ(r.status, 413);
  ExpectErrorShape(r);
  // Nothing was stored.
  EXPECT_EQ(tdb_->db().Exec("SELECT COUNT(*) FROM users")->rows.front().Int(0), 0);
  // The server is still fine.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_P(Api, LoginFailuresLookAlikeAndAreThrottled) {
  SignUp("a@example.com");
  Reply wrong = CallJson("POST", "/auth/login",
                         json::object{{"email", "a@example.com"}, {"password", "wrong-password"}});
  Reply unknown =
      CallJson("POST", "/auth/login",
               json::object{{"email", "b@example.com"}, {"password", "wrong-password"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.raw, unknown.raw);
  // The account's failures count whatever the address; "unknown" was another account.
  for (int i = 1; i < auth::LoginThrottle::kAccountPolicy.free_failures; ++i) {
    EXPECT_EQ(CallJson("POST", "/auth/login",
                       json::object{{"email", "a@example.com"}, {"password", "nope-nope"}})
                  .status,
              401);
  }
  // Even the right password is refused while the account is slowed down.
  Reply limited = CallJson("POST", "/auth/login",
                           json::object{{"email", "a@example.com"}, {"password", "password123"}});
  EXPECT_EQ(limited.status, 429) << limited.raw;
  EXPECT_EQ(ErrorCodeOf(limited), "rate_limited");
  EXPECT_FALSE(limited.headers.Get("Retry-After").empty());
  clock_.Advance(60'000);
  EXPECT_EQ(CallJson("POST", "/auth/login",
                     json::object{{"email", "a@example.com"}, {"password", "password123"}})
                .status,
            200);
}

TEST_P(Api, ForgedAndExpiredJwtsAre401) {
  const std::string token = SignUp("a@example.com");
  const std::string user_id(Call("GET", "/api/v1/user", "", token).body.at("id").as_string());
  const std::string alg_none =
      core::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
      core::Base64UrlEncode(R"({"sub":")" + user_id + R"(","exp":4000000000})") + ".";
  const std::string bad_sig = auth::SignJwt({user_id, 0, 4'000'000'000}, "not the key");
  const std::string expired = auth::SignJwt({user_id, 0, 1'700'000'000}, kJwtKey);
  for (const std::string& t : {alg_none, bad_sig, expired, std::string("garbage")}) {
    Reply r = Call("GET", "/api/v1/user", "", t);
    EXPECT_EQ(r.status, 401) << t;
    ExpectErrorShape(r);
  }
  // Signed with the key but naming no session (as every JWT before sessions did): refused, as
  // it could never be revoked. The login's own token, which names its session, works.
  const std::string sessionless = auth::SignJwt({user_id, 0, 4'000'000'000}, kJwtKey);
  EXPECT_EQ(Call("GET", "/api/v1/user", "", sessionless).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/user", "", token).status, 200);
}

TEST_P(Api, ApiTokensWorkUntilRevoked) {
  const std::string session = SignUp("a@example.com");
  Reply created = CallJson("POST", "/api/v1/tokens", json::object{{"name", "laptop"}}, session);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string secret(created.body.at("token").as_string());
  const std::string id(created.body.at("id").as_string());

  EXPECT_EQ(Call("GET", "/api/v1/user", "", secret).status, 200);
  Reply site = CallJson("POST", "/api/v1/sites", json::object{{"name", "via-token"}}, secret);
  EXPECT_EQ(site.status, 201) << site.raw;

  Reply list = Call("GET", "/api/v1/tokens", "", session);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body.as_array().size(), 1u);
  EXPECT_EQ(list.raw.find(secret), std::string::npos) << "the list never shows secrets";

  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + id, "", session).status, 204);
  Reply after = Call("GET", "/api/v1/user", "", secret);
  EXPECT_EQ(after.status, 401);
  ExpectErrorShape(after);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + id, "", session).status, 404);
}

TEST_P(Api, SitesCrudInNetlifyShape) {
  const std::string token = SignUp("a@example.com");
  Reply created =
      CallJson("POST", "/api/v1/sites",
               json::object{{"name", "blog"},
                            {"build_settings", {{"cmd", "npm run build"}, {"dir", "dist"}}}},
               token);
  ASSERT_EQ(created.status, 201) << created.raw;
  const json::object& site = created.body.as_object();
  const std::string id(site.at("id").as_string());
  const std::string port = std::to_string(server_->port());
  EXPECT_EQ(site.at("name").as_string(), "blog");
  EXPECT_EQ(site.at("url").as_string(), "http://blog.localhost:" + port);
  EXPECT_EQ(site.at("admin_url").as_string(), "http://localhost:" + port + "/sites/blog");
  EXPECT_EQ(site.at("build_settings").at("cmd").as_string(), "npm run build");
  EXPECT_TRUE(site.at("published_deploy").is_null());
  for (const char* field : {"created_at", "updated_at"}) {
    EXPECT_TRUE(site.at(field).is_string()) << field;
  }

  Reply random = Call("POST", "/api/v1/sites", "", token);
  ASSERT_EQ(random.status, 201) << random.raw;
  EXPECT_FALSE(random.body.at("name").as_string().empty());

  Reply by_id = Call("GET", "/api/v1/sites/" + id, "", token);
  EXPECT_EQ(by_id.status, 200);
  Reply by_name = Call("GET", "/api/v1/sites/blog", "", token);
  EXPECT_EQ(by_name.body.at("id").as_string(), id);
  Reply by_host = Call("GET", "/api/v1/sites/blog.localhost", "", token);
  EXPECT_EQ(by_host.status, 200);

  Reply list = Call("GET", "/api/v1/sites", "", token);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.as_array().size(), 2u);
  EXPECT_EQ(Call("GET", "/api/v1/sites?name=blo", "", token).body.as_array().size(), 1u);

  Reply patched = CallJson("PATCH", "/api/v1/sites/" + id,
                           json::object{{"build_settings", {{"dir", "public"}}}}, token);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("build_settings").at("dir").as_string(), "public");
  EXPECT_EQ(patched.body.at("build_settings").at("cmd").as_string(), "npm run build");

  Reply bad_type = CallJson("PATCH", "/api/v1/sites/" + id,
                            json::object{{"build_settings", {{"cmd", 5}}}}, token);
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_EQ(bad_type.body.at("error").at("message").as_string(),
            "build_settings.cmd must be a string");

  EXPECT_EQ(Call("DELETE", "/api/v1/sites/" + id, "", token).status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/sites/" + id, "", token).status, 404);
}

TEST_P(Api, SiteNameRules) {
  const std::string token = SignUp("a@example.com");
  for (const char* bad : {"Not Valid", "a--b", "-x", "x.y", "ü"}) {
    Reply r = CallJson("POST", "/api/v1/sites", json::object{{"name", bad}}, token);
    EXPECT_EQ(r.status, 422) << bad;
    ExpectErrorShape(r);
  }
  EXPECT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "dup"}}, token).status, 201);
  Reply dup = CallJson("POST", "/api/v1/sites", json::object{{"name", "dup"}}, token);
  EXPECT_EQ(dup.status, 422);
  EXPECT_EQ(ErrorCodeOf(dup), "name_taken");
}

TEST_P(Api, OtherUsersSitesAre404) {
  const std::string alice = SignUp("alice@example.com");
  const std::string bob = SignUp("bob@example.com");
  Reply created = CallJson("POST", "/api/v1/sites", json::object{{"name", "alices"}}, alice);
  ASSERT_EQ(created.status, 201);
  const std::string id(created.body.at("id").as_string());

  Reply read = Call("GET", "/api/v1/sites/" + id, "", bob);
  Reply missing = Call("GET", "/api/v1/sites/00000000-0000-4000-8000-000000000000", "", bob);
  EXPECT_EQ(read.status, 404);
  EXPECT_EQ(read.raw, missing.raw) << "indistinguishable from a missing site";
  EXPECT_EQ(Call("GET", "/api/v1/sites/alices", "", bob).status, 404);
  EXPECT_EQ(CallJson("PATCH", "/api/v1/sites/" + id, json::object{{"name", "mine"}}, bob).status,
            404);
  EXPECT_EQ(Call("DELETE", "/api/v1/sites/" + id, "", bob).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/sites", "", bob).body.as_array().size(), 0u);

  Reply still = Call("GET", "/api/v1/sites/" + id, "", alice);
  ASSERT_EQ(still.status, 200);
  EXPECT_EQ(still.body.at("name").as_string(), "alices");
}

// The deploy actions, by someone else: 404 like a missing deploy, and nothing changes. Each is
// then done by the owner, so a 404 cannot come from a broken route.
TEST_P(Api, OtherUsersDeployLogRestoreCancelAndLockAre404AndChangeNothing) {
  const std::string alice = SignUp("alice@example.com");
  const std::string bob = SignUp("bob@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "alices"}}, alice).status, 201);
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "bobs"}}, bob).status, 201);
  const std::string v1 = Deploy(alice, "alices", {{"index.html", "v1"}}, false);
  const std::string v2 = Deploy(alice, "alices", {{"index.html", "v2"}}, false);
  Reply pending = CallJson("POST", "/api/v1/sites/alices/deploys", json::object{}, alice);
  ASSERT_EQ(pending.status, 200) << pending.raw;
  const std::string pending_id(pending.body.at("id").as_string());
  const std::string pending_state(pending.body.at("state").as_string());
  const std::string secret_line = "alice's build printed this";
  ASSERT_TRUE(tdb_->db()
                  .Exec("INSERT INTO build_logs (deploy_id, seq, ts, stream, line) VALUES "
                        "(?, 0, 0, 'stdout', ?)",
                        {v1, secret_line})
                  .ok());
  const std::string host = "alices.localhost";
  const std::string missing = "00000000-0000-4000-8000-000000000000";
  const auto deploy_of = [&](const std::string& id) {
    return Call("GET", "/api/v1/deploys/" + id, "", alice);
  };
  const auto published = [&] {
    Reply site = Call("GET", "/api/v1/sites/alices", "", alice);
    return site.body.is_object() && site.body.at("published_deploy").is_object()
               ? std::string(site.body.at("published_deploy").at("id").as_string())
               : std::string("<none>");
  };
  ASSERT_EQ(published(), v2);
  ASSERT_EQ(deploy_of(v1).body.at("locked"), false);

  // The log.
  Reply log = Call("GET", "/api/v1/deploys/" + v1 + "/log", "", bob);
  EXPECT_EQ(log.status, 404);
  EXPECT_EQ(log.raw, Call("GET", "/api/v1/deploys/" + missing + "/log", "", bob).raw)
      << "indistinguishable from a missing deploy";
  EXPECT_EQ(log.raw.find(secret_line), std::string::npos);

  // Restore: under her site (by name and by id), and under his own.
  Reply site = Call("GET", "/api/v1/sites/alices", "", alice);
  const std::string site_id(site.body.at("id").as_string());
  for (const std::string& under : {std::string("alices"), site_id, std::string("bobs")}) {
    Reply restore = Call("POST", "/api/v1/sites/" + under + "/deploys/" + v1 + "/restore", "", bob);
    EXPECT_EQ(restore.status, 404) << "under " << under << ": " << restore.raw;
  }
  EXPECT_EQ(published(), v2);
  EXPECT_EQ(Call("GET", "/", "", "", host).raw, "v2");
  EXPECT_EQ(Call("GET", "/api/v1/sites/bobs", "", bob).body.at("published_deploy"),
            json::value(nullptr));

  // Cancel.
  EXPECT_EQ(Call("POST", "/api/v1/deploys/" + pending_id + "/cancel", "", bob).status, 404);
  EXPECT_EQ(deploy_of(pending_id).body.at("state"), json::value(pending_state));

  // Lock (which also publishes), then unlock of a deploy she locked.
  EXPECT_EQ(Call("POST", "/api/v1/deploys/" + v1 + "/lock", "", bob).status, 404);
  EXPECT_EQ(deploy_of(v1).body.at("locked"), false);
  EXPECT_EQ(published(), v2);
  EXPECT_EQ(Call("GET", "/", "", "", host).raw, "v2");
  ASSERT_EQ(Call("POST", "/api/v1/deploys/" + v2 + "/lock", "", alice).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/deploys/" + v2 + "/unlock", "", bob).status, 404);
  EXPECT_EQ(deploy_of(v2).body.at("locked"), true);

  // The owner can do each of them.
  Reply own_log = Call("GET", "/api/v1/deploys/" + v1 + "/log", "", alice);
  EXPECT_EQ(own_log.status, 200);
  EXPECT_NE(own_log.raw.find(secret_line), std::string::npos) << own_log.raw;
  EXPECT_EQ(Call("POST", "/api/v1/deploys/" + v2 + "/unlock", "", alice).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/sites/alices/deploys/" + v1 + "/restore", "", alice).status, 200);
  EXPECT_EQ(Call("GET", "/", "", "", host).raw, "v1");
  EXPECT_EQ(Call("POST", "/api/v1/deploys/" + pending_id + "/cancel", "", alice).status, 200);
  EXPECT_EQ(deploy_of(pending_id).body.at("state"), "canceled");
}

TEST_P(Api, SqlMetacharactersRoundTripVerbatim) {
  const std::string nasty = "x'; DROP TABLE users; -- \"?\" $1 \\ %_ \xe2\x9c\x93 <script>";
  Reply reg = CallJson(
      "POST", "/auth/register",
      json::object{{"email", "meta@example.com"}, {"password", nasty}, {"full_name", nasty}});
  ASSERT_EQ(reg.status, 201) << reg.raw;
  EXPECT_EQ(reg.body.at("full_name").as_string(), nasty);
  Reply login = CallJson("POST", "/auth/login",
                         json::object{{"email", "meta@example.com"}, {"password", nasty}});
  ASSERT_EQ(login.status, 200);
  const std::string token(login.body.at("token").as_string());
  EXPECT_EQ(Call("GET", "/api/v1/user", "", token).body.at("full_name").as_string(), nasty);

  Reply tok = CallJson("POST", "/api/v1/tokens", json::object{{"name", nasty}}, token);
  ASSERT_EQ(tok.status, 201);
  EXPECT_EQ(tok.body.at("name").as_string(), nasty);

  json::object settings{{"cmd", nasty},      {"dir", nasty},         {"base", nasty},
                        {"repo_url", nasty}, {"repo_branch", nasty}, {"functions_dir", nasty}};
  Reply site = CallJson("POST", "/api/v1/sites",
                        json::object{{"name", "meta"}, {"build_settings", settings}}, token);
  ASSERT_EQ(site.status, 201) << site.raw;
  Reply reread = Call("GET", "/api/v1/sites/meta", "", token);
  for (const auto& [key, value] : settings) {
    EXPECT_EQ(reread.body.at("build_settings").at(key), value) << key;
  }
  Reply filtered = Call("GET", "/api/v1/sites?name=%27%3B%20DROP", "", token);
  EXPECT_EQ(filtered.status, 200);
  EXPECT_EQ(filtered.body.as_array().size(), 0u);
  // Metacharacters in the email are rejected as an invalid address, not executed.
  Reply bad = CallJson("POST", "/auth/register",
                       json::object{{"email", "a'--@example.com"}, {"password", "password123"}});
  EXPECT_TRUE(bad.status == 201 || bad.status == 422) << bad.status;
  EXPECT_GE(tdb_->db().Exec("SELECT COUNT(*) FROM users")->rows.front().Int(0), 1);
}

TEST_P(Api, HostsUnderTheBaseDomainAreLeftToTheEdge) {
  Reply edge = Call("GET", "/healthz", "", "", "blog.localhost:8080");
  EXPECT_EQ(edge.status, 404);
  Reply api = Call("GET", "/healthz", "", "", "localhost:8080");
  EXPECT_EQ(api.status, 200);
}

TEST_P(Api, UnknownRoutesAndMethods) {
  Reply nope = Call("GET", "/api/v1/nope");
  EXPECT_EQ(nope.status, 404);
  ExpectErrorShape(nope);
  Reply method = Call("PUT", "/auth/login", "{}");
  EXPECT_EQ(method.status, 405);
  ExpectErrorShape(method);
  EXPECT_NE(method.headers.Get("Allow").find("POST"), std::string::npos);
}

TEST_P(Api, ResponsesCarryRequestIds) {
  Reply r = Call("GET", "/healthz");
  EXPECT_FALSE(r.headers.Get("X-Request-Id").empty());
}

TEST_P(Api, DeployPublishServeAndRollBack) {
  const std::string token = SignUp("a@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "blog"}}, token).status, 201);
  const std::string host = "blog.localhost:" + std::to_string(server_->port());

  // Nothing published yet.
  EXPECT_EQ(Call("GET", "/", "", "", host).status, 404);

  const std::string v1 =
      Deploy(token, "blog", {{"index.html", "<h1>v1</h1>"}, {"about.html", "about v1"}}, false);
  Reply page = Call("GET", "/", "", "", host);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.raw, "<h1>v1</h1>");
  EXPECT_EQ(page.headers.Get("X-RepliDeploy-Deploy"), v1);
  EXPECT_EQ(page.headers.Get("Cache-Control"), "public, max-age=0, must-revalidate");
  EXPECT_EQ(Call("GET", "/about", "", "", host).raw, "about v1");

  const std::string v2 = Deploy(token, "blog", {{"index.html", "<h1>v2</h1>"}}, false);
  EXPECT_EQ(Call("GET", "/", "", "", host).raw, "<h1>v2</h1>");
  EXPECT_EQ(Call("GET", "/about", "", "", host).status, 404);

  // The old deploy keeps its own URL.
  const std::string v1_host = v1 + "--blog.localhost:" + std::to_string(server_->port());
  EXPECT_EQ(Call("GET", "/", "", "", v1_host).raw, "<h1>v1</h1>");

  Reply restored = Call("POST", "/api/v1/sites/blog/deploys/" + v1 + "/restore", "", token);
  ASSERT_EQ(restored.status, 200) << restored.raw;
  // Visible on the very next request.
  Reply after = Call("GET", "/", "", "", host);
  EXPECT_EQ(after.raw, "<h1>v1</h1>");
  EXPECT_EQ(after.headers.Get("X-RepliDeploy-Deploy"), v1);

  // Drafts with an alias get <alias>--<site>, and do not go live.
  const std::string draft = Deploy(token, "blog", {{"index.html", "draft"}}, true, "feature");
  EXPECT_EQ(Call("GET", "/", "", "", "feature--blog.localhost").raw, "draft");
  EXPECT_EQ(Call("GET", "/", "", "", host).raw, "<h1>v1</h1>");

  Reply list = Call("GET", "/api/v1/sites/blog/deploys", "", token);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.as_array().size(), 3u);
}

TEST_P(Api, DeployErrorsAreClear) {
  const std::string token = SignUp("a@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "s"}}, token).status, 201);
  Reply created = CallJson("POST", "/api/v1/sites/s/deploys", json::object{}, token);
  ASSERT_EQ(created.status, 200) << created.raw;
  const std::string id(created.body.at("id").as_string());
  Reply bad_path = CallJson("PUT", "/api/v1/sites/s/deploys/" + id,
                            json::object{{"files", {{"../x", std::string(40, 'a')}}}}, token);
  EXPECT_EQ(bad_path.status, 422);
  ExpectErrorShape(bad_path);
  Reply bad_type =
      CallJson("PUT", "/api/v1/sites/s/deploys/" + id, json::object{{"files", {{"x", 5}}}}, token);
  EXPECT_EQ(bad_type.status, 400);
  Reply ok = CallJson(
      "PUT", "/api/v1/sites/s/deploys/" + id,
      json::object{{"files", {{"x.txt", "11f6ad8ec52a2984abaafd7c3b516503785c2072"}}}}, token);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  Reply wrong = Call("PUT", "/api/v1/deploys/" + id + "/files/x.txt", "not x", token);
  EXPECT_EQ(wrong.status, 422);
  EXPECT_EQ(ErrorCodeOf(wrong), "digest_mismatch");
  Reply right = Call("PUT", "/api/v1/deploys/" + id + "/files/x.txt", "x", token);
  EXPECT_EQ(right.status, 200) << right.raw;
  // Another user sees nothing.
  const std::string other = SignUp("b@example.com");
  EXPECT_EQ(Call("GET", "/api/v1/deploys/" + id, "", other).status, 404);
  EXPECT_EQ(Call("PUT", "/api/v1/deploys/" + id + "/files/x.txt", "x", other).status, 404);
}

// Readers hammer the live site while deploys and rollbacks land: every answer must come whole
// from one deploy (the body names its version, the header names the deploy that answered). After
// each deploy and each rollback the test waits until a reader has been answered by it, so the
// readers see every deploy go live, however the threads are scheduled.
TEST_P(Api, DeploysAndRollbacksAreAtomic) {
  const std::string token = SignUp("a@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "atomic"}}, token).status, 201);
  std::mutex mu;
  std::condition_variable answered;
  std::map<std::string, std::string> version_of;  // deploy id -> version
  auto deploy_version = [&](int v) {
    const std::string body = "version " + std::to_string(v) + " " + std::string(3000, 'x');
    std::string id =
        Deploy(token, "atomic", {{"index.html", body}, {"v.txt", std::to_string(v)}}, false);
    std::lock_guard lock(mu);
    version_of[id] = std::to_string(v);
    return id;
  };
  const std::string first = deploy_version(0);

  std::atomic<bool> stop{false};
  std::vector<std::pair<std::string, std::string>> seen;  // (deploy header, body)
  std::vector<std::string> problems;
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        http::ClientRequest request;
        request.url = base_ + "/";
        request.headers.Set("Host", "atomic.localhost");
        auto got = http::Fetch(request);
        std::lock_guard lock(mu);
        if (!got.ok() || got->status != 200) {
          problems.push_back(got.ok() ? "status " + std::to_string(got->status)
                                      : got.error().message);
          continue;
        }
        seen.emplace_back(std::string(got->headers.Get("X-RepliDeploy-Deploy")), got->body);
        answered.notify_all();
      }
    });
  }
  // Waits until a reader's answer, recorded after `from` answers, came from `deploy`.
  auto await_answer_from = [&](const std::string& deploy, std::size_t from) {
    std::unique_lock lock(mu);
    const bool got = answered.wait_for(lock, core::testing::kWaitBound, [&] {
      return std::any_of(seen.begin() + static_cast<std::ptrdiff_t>(std::min(from, seen.size())),
                         seen.end(), [&](const auto& s) { return s.first == deploy; });
    });
    EXPECT_TRUE(got) << "no reader was answered by deploy " << deploy << " after it went live";
    return got;
  };
  auto answers_so_far = [&] {
    std::lock_guard lock(mu);
    return seen.size();
  };
  std::vector<std::string> ids{first};
  bool live = await_answer_from(first, 0);
  for (int v = 1; v <= 4 && live; ++v) {
    const std::size_t from = answers_so_far();
    ids.push_back(deploy_version(v));
    live = await_answer_from(ids.back(), from);
  }
  for (int i = 0; i < 6 && live; ++i) {
    const std::string target = ids[i % ids.size()];
    const std::size_t from = answers_so_far();
    Reply r = Call("POST", "/api/v1/sites/atomic/deploys/" + target + "/restore", "", token);
    EXPECT_EQ(r.status, 200);
    live = await_answer_from(target, from);
  }
  stop = true;
  for (auto& t : readers) t.join();
  // Checked after the fact: a reader may see a deploy before Deploy() has returned its id.
  for (const auto& [deploy, body] : seen) {
    auto it = version_of.find(deploy);
    const std::string expected = it == version_of.end() ? "?" : "version " + it->second + " ";
    if (!body.starts_with(expected) || body.size() != expected.size() + 3000) {
      problems.push_back("deploy " + deploy + " answered '" + body.substr(0, 12) + "'");
    }
  }
  std::set<std::string> deploys_seen;
  for (const auto& [deploy, body] : seen) deploys_seen.insert(deploy);
  EXPECT_EQ(deploys_seen.size(), 5u) << "readers should have seen every deploy go live";
  EXPECT_TRUE(problems.empty()) << problems.size() << " bad answers, first: " << problems.front();
}

TEST_P(Api, EnvironmentVariablesAreTheOwnersOnly) {
  const std::string token = SignUp("env@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "envsite"}}, token).status,
            201);
  EXPECT_EQ(
      CallJson("PUT", "/api/v1/sites/envsite/env/API_KEY", json::object{{"value", "abc123"}}, token)
          .status,
      200);
  EXPECT_EQ(CallJson("PUT", "/api/v1/sites/envsite/env/API_KEY",
                     json::object{{"value", "prod456"}, {"context", "production"}}, token)
                .status,
            200);
  Reply bad =
      CallJson("PUT", "/api/v1/sites/envsite/env/9BAD", json::object{{"value", "x"}}, token);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(
      CallJson("PUT", "/api/v1/sites/envsite/env/A", json::object{{"value", 5}}, token).status,
      400);
  Reply list = Call("GET", "/api/v1/sites/envsite/env", "", token);
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body.as_array().size(), 1u);
  EXPECT_EQ(list.body.as_array()[0].at("values").as_array().size(), 2u);
  const std::string other = SignUp("other@example.com");
  EXPECT_EQ(Call("GET", "/api/v1/sites/envsite/env", "", other).status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/sites/envsite/env/API_KEY", "", other).status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/sites/envsite/env/API_KEY", "", token).status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/sites/envsite/env", "", token).body.as_array().size(), 0u);
}

// ---- the edge, over HTTP ------------------------------------------------------------------

class EdgeHttp : public Api {
 protected:
  // Deploys `files` to a fresh site "web" and returns its Host header value.
  std::string Publish(const std::map<std::string, std::string>& files) {
    token_ = SignUp("edge@example.com");
    EXPECT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "web"}}, token_).status, 201);
    deploy_ = Deploy(token_, "web", files, false);
    return "web.localhost";
  }
  Reply Get(const std::string& path,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            const std::string& method = "GET", const std::string& host = "web.localhost",
            const std::string& body = {}) {
    http::ClientRequest request;
    request.method = method;
    request.url = base_ + path;
    request.headers.Set("Host", host);
    request.body = body;
    for (const auto& [k, v] : headers) request.headers.Set(k, v);
    auto r = http::Fetch(request);
    EXPECT_TRUE(r.ok());
    return r.ok() ? Reply{r->status, nullptr, r->headers, r->body} : Reply{};
  }
  // Uploads `files` as a new production deploy of "web" and waits for it to end.
  Reply DeployAndWait(const std::map<std::string, std::string>& files) {
    Reply created = CallJson("POST", "/api/v1/sites/web/deploys", json::object{}, token_);
    const std::string id(created.body.at("id").as_string());
    json::object digests;
    for (const auto& [path, content] : files) digests[path] = core::HexEncode(core::Sha1(content));
    EXPECT_EQ(
        CallJson("PUT", "/api/v1/deploys/" + id, json::object{{"files", digests}}, token_).status,
        200);
    for (const auto& [path, content] : files) {
      EXPECT_EQ(Call("PUT", "/api/v1/deploys/" + id + "/files/" + path, content, token_).status,
                200);
    }
    Reply d;
    core::testing::WaitUntil([&] {
      d = Call("GET", "/api/v1/deploys/" + id, "", token_);
      const std::string state =
          d.body.is_object() ? std::string(d.body.at("state").as_string()) : "";
      return state == "error" || state == "ready";
    });
    return d;
  }
  std::string token_;
  std::string deploy_;
};

TEST_P(EdgeHttp, EtagRangeAndCompression) {
  const std::string css = "body { color: red; }\n" + std::string(4000, 'a');
  Publish({{"index.html", "<h1>home</h1>"}, {"app.css", css}});
  Reply full = Get("/app.css");
  ASSERT_EQ(full.status, 200);
  EXPECT_EQ(full.raw, css);
  EXPECT_EQ(full.headers.Get("Content-Type"), "text/css; charset=utf-8");
  const std::string etag(full.headers.Get("ETag"));
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(Get("/app.css", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(Get("/app.css", {{"If-None-Match", "\"other\""}}).status, 200);

  Reply range = Get("/app.css", {{"Range", "bytes=0-3"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.raw, "body");
  EXPECT_EQ(range.headers.Get("Content-Range"), "bytes 0-3/" + std::to_string(css.size()));
  Reply suffix = Get("/app.css", {{"Range", "bytes=-2"}});
  EXPECT_EQ(suffix.raw, "aa");
  Reply beyond = Get("/app.css", {{"Range", "bytes=999999-"}});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.headers.Get("Content-Range"), "bytes */" + std::to_string(css.size()));

  // The deploy went live with identity bodies; its variants are made in the background.
  Reply br = Get("/app.css", {{"Accept-Encoding", "gzip, br"}});
  EXPECT_EQ(br.status, 200);
  for (int i = 0; i < 600 && br.headers.Get("Content-Encoding") != "br"; ++i) {
    EXPECT_EQ(br.raw, css) << "without its variant yet, the file is sent as it is";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    br = Get("/app.css", {{"Accept-Encoding", "gzip, br"}});
  }
  EXPECT_EQ(br.headers.Get("Content-Encoding"), "br");
  EXPECT_EQ(br.headers.Get("Vary"), "Accept-Encoding");
  EXPECT_LT(br.raw.size(), css.size());
  EXPECT_EQ(BrotliDecoded(br.raw), css) << "the variant decodes to the file's very bytes";
  EXPECT_NE(std::string(br.headers.Get("ETag")), etag) << "each encoding has its own tag";
  Reply gz = Get("/app.css", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gz.headers.Get("Content-Encoding"), "gzip");
  EXPECT_EQ(GzipDecoded(gz.raw), css);
  EXPECT_EQ(Get("/app.css").raw, css) << "without Accept-Encoding, still the identity bytes";
  Reply no_br = Get("/app.css", {{"Accept-Encoding", "br;q=0, gzip"}});
  EXPECT_EQ(no_br.headers.Get("Content-Encoding"), "gzip");

  Reply head = Get("/app.css", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.raw.empty());
  EXPECT_EQ(head.headers.Get("Content-Length"), std::to_string(css.size()));
}

// Plain-HTTP bodies from EdgeOptions::sendfile_min (64 KiB) up go out from the stored file with
// sendfile(2), and the file stays open between requests: bytes, ranges, HEAD and 304 are as from
// memory, a variant goes from its own file, and twenty answers leave exactly one descriptor open
// on the file (none would mean an open per request; twenty, a leak).
TEST_P(EdgeHttp, MediumFilesGoFromTheirStoredFileKeptOpen) {
  std::string js;  // about 200 KB of lines that differ
  for (int i = 0; js.size() < (std::size_t{200} << 10); ++i) {
    js += "function f" + std::to_string(i) + "() { return " + std::to_string(i * 7919 % 1009) +
          "; }\n";
  }
  Publish({{"index.html", "<h1>home</h1>"}, {"app.js", js}});
  const std::string sha = core::HexEncode(core::Sha256(js));
  // Descriptors of this process (the server runs in it) open on the file itself (no variant).
  const auto open_on_file = [&] {
    int n = 0;
    for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      if (!ec && target.ends_with(sha)) ++n;
    }
    return n;
  };
  for (int i = 0; i < 20; ++i) {
    Reply full = Get("/app.js");
    ASSERT_EQ(full.status, 200);
    ASSERT_EQ(full.raw.size(), js.size());
    ASSERT_TRUE(full.raw == js) << "request " << i;
  }
  // The deploy's background work (variants) may hold the file a moment too.
  EXPECT_TRUE(core::testing::WaitUntil([&] { return open_on_file() == 1; }))
      << open_on_file() << " descriptors on the file";

  Reply range = Get("/app.js", {{"Range", "bytes=100000-100009"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.raw, js.substr(100000, 10));
  EXPECT_EQ(range.headers.Get("Content-Range"), "bytes 100000-100009/" + std::to_string(js.size()));
  const std::string etag(Get("/app.js").headers.Get("ETag"));
  EXPECT_EQ(Get("/app.js", {{"If-None-Match", etag}}).status, 304);
  Reply head = Get("/app.js", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.raw.empty());
  EXPECT_EQ(head.headers.Get("Content-Length"), std::to_string(js.size()));

  Reply br = Get("/app.js", {{"Accept-Encoding", "br"}});
  for (int i = 0; i < 600 && br.headers.Get("Content-Encoding") != "br"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    br = Get("/app.js", {{"Accept-Encoding", "br"}});
  }
  ASSERT_EQ(br.headers.Get("Content-Encoding"), "br");
  EXPECT_EQ(BrotliDecoded(br.raw), js);
  EXPECT_EQ(open_on_file(), 1);
}

// A file's headers are prepared once and shared by its answers: a new deploy of the very same
// bytes, or a new rule, must show at once, and two files of equal bytes keep their own types.
TEST_P(EdgeHttp, PreparedFileHeadsFollowNewDeploysAndRules) {
  Publish({{"index.html", "same bytes"}, {"copy.txt", "same bytes"}});
  const std::string first = deploy_;
  for (int i = 0; i < 2; ++i) {
    Reply page = Get("/");
    EXPECT_EQ(page.raw, "same bytes");
    EXPECT_EQ(page.headers.Get("X-RepliDeploy-Deploy"), first);
    EXPECT_EQ(page.headers.Get("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(page.headers.Get("Cache-Control"), "public, max-age=0, must-revalidate");
    EXPECT_EQ(page.headers.Get("Accept-Ranges"), "bytes");
    EXPECT_EQ(page.headers.Get("Server"), "replideploy");
    EXPECT_EQ(page.headers.Get("X-Request-Id").size(), 16u);
  }
  const std::string etag(Get("/").headers.Get("ETag"));
  Reply copy = Get("/copy.txt");
  EXPECT_EQ(copy.headers.Get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(copy.headers.Get("ETag"), etag) << "the tag is the content's";

  const std::string with_rules =
      Deploy(token_, "web",
             {{"index.html", "same bytes"},
              {"_headers", "/*\n  X-Frame-Options: DENY\n  Cache-Control: no-store\n"}},
             false);
  ASSERT_NE(with_rules, first);
  Reply ruled = Get("/");
  EXPECT_EQ(ruled.headers.Get("X-RepliDeploy-Deploy"), with_rules);
  EXPECT_EQ(ruled.headers.Get("ETag"), etag);
  EXPECT_EQ(ruled.headers.Get("X-Frame-Options"), "DENY");
  EXPECT_EQ(ruled.headers.Get("Cache-Control"), "no-store");
  EXPECT_EQ(Get("/", {{"If-None-Match", etag}}).status, 304);

  const std::string plain = Deploy(token_, "web", {{"index.html", "same bytes"}}, false);
  Reply again = Get("/");
  EXPECT_EQ(again.headers.Get("X-RepliDeploy-Deploy"), plain);
  EXPECT_EQ(again.headers.Get("X-Frame-Options"), "");
  EXPECT_EQ(again.headers.Get("Cache-Control"), "public, max-age=0, must-revalidate");
  Reply head = Get("/", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.Get("Content-Length"), "10");
  EXPECT_EQ(head.headers.Get("X-RepliDeploy-Deploy"), plain);
}

TEST_P(EdgeHttp, NotFoundPagesAndPrettyUrls) {
  Publish({{"index.html", "home"}, {"about.html", "about"}, {"docs/index.html", "docs"}});
  EXPECT_EQ(Get("/missing").status, 404);
  EXPECT_EQ(Get("/about").raw, "about");
  Reply docs = Get("/docs?x=1");
  EXPECT_EQ(docs.status, 301);
  EXPECT_EQ(docs.headers.Get("Location"), "/docs/?x=1");
  EXPECT_EQ(Get("/docs/").raw, "docs");
  // A custom 404 page.
  deploy_ = Deploy(token_, "web", {{"index.html", "home"}, {"404.html", "custom 404"}}, false);
  Reply custom = Get("/nope");
  EXPECT_EQ(custom.status, 404);
  EXPECT_EQ(custom.raw, "custom 404");
}

TEST_P(EdgeHttp, PathsNeverEscapeTheDeploy) {
  Publish({{"index.html", "home"}, {"a/b.txt", "b"}});
  for (const char* bad : {"/%2e%2e/etc/passwd", "/a/%2e%2e/%2e%2e/x", "/a%2fb.txt", "/a%5cb.txt",
                          "/a/b.txt%00", "/%c0%ae%c0%ae/x", "/..%2f..%2fetc"}) {
    Reply r = Get(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.raw.find("root:"), std::string::npos) << bad;
  }
  EXPECT_EQ(Get("/a/./b.txt").raw, "b");
  EXPECT_EQ(Get("/a//b.txt").raw, "b");
  EXPECT_EQ(Get("/x/../a/b.txt").raw, "b");
  // Rule files are read by the edge, never served.
  EXPECT_EQ(Get("/_redirects").status, 404);
}

TEST_P(EdgeHttp, RedirectRewriteAndHeaderRules) {
  Publish(
      {{"index.html", "home"},
       {"app.html", "spa shell"},
       {"old.html", "old file"},
       {"_redirects",
        "/moved /new 301\n"
        "/old-forced /index.html 302!\n"
        "/blog/:year/* /posts/:year/:splat 308\n"
        "/gone /index.html 410\n"
        "/search q=:term /find/:term 302\n"
        "/app/* /app.html 200\n"
        "/old.html /elsewhere 301\n"},
       {"_headers", "/*\n  X-Frame-Options: DENY\n/app/*\n  Cache-Control: no-store\n"},
       {"netlify.toml", "[[redirects]]\nfrom = \"/toml\"\nto = \"/index.html\"\nstatus = 200\n"}});
  // "/old" itself is answered by old.html (a pretty URL), which shadows rules that are not forced.
  EXPECT_EQ(Get("/old").raw, "old file");
  Reply moved = Get("/moved");
  EXPECT_EQ(moved.status, 301);
  EXPECT_EQ(moved.headers.Get("Location"), "/new");
  Reply blog = Get("/blog/2024/hello/world");
  EXPECT_EQ(blog.status, 308);
  EXPECT_EQ(blog.headers.Get("Location"), "/posts/2024/hello/world");
  EXPECT_EQ(Get("/gone").status, 410);
  Reply search = Get("/search?q=cats");
  EXPECT_EQ(search.status, 302);
  EXPECT_EQ(search.headers.Get("Location").substr(0, 10), "/find/cats");
  Reply spa = Get("/app/settings/profile");
  EXPECT_EQ(spa.status, 200);
  EXPECT_EQ(spa.raw, "spa shell");
  EXPECT_EQ(spa.headers.Get("Cache-Control"), "no-store");
  EXPECT_EQ(spa.headers.Get("X-Frame-Options"), "DENY");
  // An existing file shadows a rule that is not forced.
  EXPECT_EQ(Get("/old.html").raw, "old file");
  EXPECT_EQ(Get("/toml").raw, "home");
  EXPECT_EQ(Get("/").headers.Get("X-Frame-Options"), "DENY");
}

// `rules test` runs the edge's own routing: for every request, what it says the edge answers
// (status, Location, headers from the rules) is what the edge answered.
TEST_P(EdgeHttp, RulesTestSaysWhatTheEdgeAnswers) {
  Publish(
      {{"index.html", "home"},
       {"app.html", "spa shell"},
       {"old.html", "old file"},
       {"404.html", "custom not found"},
       {"docs/index.html", "docs"},
       {"_redirects",
        "/moved /new 301\n"
        "/old-forced /index.html 302!\n"
        "/blog/:year/* /posts/:year/:splat 308\n"
        "/gone /index.html 410\n"
        "/search q=:term /find/:term 302\n"
        "/us /index.html 302 Country=us\n"
        "/admin/* /index.html 200! Role=admin\n"
        "/app/* /app.html 200\n"
        "/missing-target /nowhere 200\n"
        "/old.html /elsewhere 301\n"},
       {"_headers", "/*\n  X-Frame-Options: DENY\n/app/*\n  Cache-Control: no-store\n"},
       {"netlify.toml", "[[redirects]]\nfrom = \"/toml\"\nto = \"/index.html\"\nstatus = 200\n"}});
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
      requests = {{"/", {}},
                  {"/old", {}},
                  {"/old.html", {}},
                  {"/moved?x=1", {}},
                  {"/old-forced", {}},
                  {"/blog/2024/hello/world", {}},
                  {"/gone", {}},
                  {"/search?q=cats", {}},
                  {"/search", {}},
                  {"/us", {{"X-Country", "US"}}},
                  {"/us", {{"X-Country", "de"}}},
                  {"/admin/panel", {}},
                  {"/app/settings", {}},
                  {"/missing-target", {}},
                  {"/toml", {}},
                  {"/docs", {}},
                  {"/nothing/here", {}}};
  for (const auto& [path, headers] : requests) {
    const Reply edge = Get(path, headers);
    json::object input{{"url", path}};
    json::object header_object;
    for (const auto& [name, value] : headers) header_object[name] = value;
    input["headers"] = header_object;
    const Reply explained = CallJson("POST", "/api/v1/sites/web/rules/test", input, token_);
    ASSERT_EQ(explained.status, 200) << path << explained.raw;
    const json::object& answer = explained.body.at("answer").as_object();
    EXPECT_EQ(answer.at("status").as_int64(), edge.status) << path << explained.raw;
    const std::string location =
        answer.at("location").is_string() ? std::string(answer.at("location").as_string()) : "";
    EXPECT_EQ(location, edge.headers.Get("Location")) << path;
    for (const auto& h : answer.at("headers").as_array()) {
      EXPECT_EQ(edge.headers.Get(std::string(h.at("name").as_string())), h.at("value").as_string())
          << path;
    }
    if (answer.at("file").is_string() && edge.status != 304) {
      EXPECT_FALSE(edge.raw.empty()) << path;
    }
    EXPECT_EQ(explained.body.at("deploy_id").as_string(), edge.headers.Get("X-RepliDeploy-Deploy"));
  }

  const Reply us = CallJson("POST", "/api/v1/sites/web/rules/test",
                            json::object{{"url", "/us"}, {"country", "de"}}, token_);
  const json::array& rules = us.body.at("redirects").as_array();
  ASSERT_EQ(rules.size(), 11u);
  EXPECT_EQ(rules[5].at("outcome").as_string(), "not_matched");
  EXPECT_EQ(rules[5].at("reason").as_string(), "the country is de, the rule needs Country=us");
  EXPECT_EQ(rules[10].at("source").as_string(), "netlify.toml:1");
  const Reply admin =
      CallJson("POST", "/api/v1/sites/web/rules/test",
               json::object{{"url", "/admin/x"}, {"roles", json::array{"admin"}}}, token_);
  EXPECT_EQ(admin.body.at("answer").at("kind").as_string(), "rewrite") << admin.raw;

  // Bad input gets a 4xx that names the field; nobody else's site is visible.
  const std::string url = "/api/v1/sites/web/rules/test";
  EXPECT_EQ(CallJson("POST", url, json::object{}, token_).status, 400);
  const Reply bad = CallJson("POST", url, json::object{{"url", "no-slash"}}, token_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.at("error").at("message").as_string().subview().substr(0, 4), "url:");
  EXPECT_EQ(CallJson("POST", url, json::object{{"url", "/"}, {"roles", "admin"}}, token_).status,
            400);
  EXPECT_EQ(Call("POST", url, "{", token_).status, 400);
  EXPECT_EQ(CallJson("POST", url, json::object{{"url", "/"}}).status, 401);
  const std::string other = SignUp("other@example.com");
  EXPECT_EQ(CallJson("POST", url, json::object{{"url", "/"}}, other).status, 404);
  EXPECT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "empty"}}, other).status, 201);
  const Reply empty =
      CallJson("POST", "/api/v1/sites/empty/rules/test", json::object{{"url", "/"}}, other);
  EXPECT_EQ(empty.status, 404);
  EXPECT_EQ(empty.body.at("error").at("code").as_string(), "not_published");
  EXPECT_EQ(CallJson("POST", "/api/v1/sites/empty/rules/test",
                     json::object{{"url", "/"}, {"deploy_id", deploy_}}, other)
                .status,
            404);
  // An older deploy can be tested by id.
  const Reply by_id =
      CallJson("POST", url, json::object{{"url", "/"}, {"deploy_id", deploy_}}, token_);
  EXPECT_EQ(by_id.status, 200) << by_id.raw;
}

// Netlify's `Basic-Auth` in `_headers` protects paths (docs.netlify.com, "Password protection":
// "Basic-Auth: someuser:somepassword anotheruser:anotherpassword"); it was sent to every visitor
// as a response header before, password included.
TEST_P(EdgeHttp, BasicAuthHeaderRulesProtectPathsAndAreNeverSent) {
  Publish({{"index.html", "home"},
           {"private/index.html", "secret page"},
           {"_redirects", "/private/old /private/ 301\n"},
           {"_headers",
            "/private/*\n  Basic-Auth: alice:s3cret bob:pa:ss\n  X-Robots-Tag: noindex\n"}});
  auto basic = [](const std::string& pair) {
    return std::vector<std::pair<std::string, std::string>>{
        {"Authorization", "Basic " + core::Base64Encode(pair)}};
  };
  const Reply anonymous = Get("/private/");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.Get("WWW-Authenticate"),
            "Basic realm=\"web.localhost\", charset=\"UTF-8\"");
  EXPECT_EQ(anonymous.raw.find("secret page"), std::string::npos);
  EXPECT_EQ(Get("/private/old").status, 401);  // before any redirect rule
  EXPECT_EQ(Get("/private/", basic("alice:wrong")).status, 401);
  EXPECT_EQ(Get("/private/", basic("mallory:s3cret")).status, 401);
  const Reply alice = Get("/private/", basic("alice:s3cret"));
  EXPECT_EQ(alice.status, 200);
  EXPECT_EQ(alice.raw, "secret page");
  EXPECT_EQ(alice.headers.Get("X-Robots-Tag"), "noindex");
  EXPECT_EQ(Get("/private/old", basic("bob:pa:ss")).status, 301);
  EXPECT_EQ(Get("/").status, 200);  // other paths are open
  for (const Reply& r : {anonymous, alice, Get("/")}) {
    EXPECT_FALSE(r.headers.Has("Basic-Auth"));
    EXPECT_EQ(r.raw.find("s3cret"), std::string::npos);
  }
}

TEST_P(EdgeHttp, SitePasswordGuardsTheDeploysItsScopeNames) {
  Publish({{"index.html", "home page"}, {"docs/index.html", "docs page"}});
  const std::string permalink = deploy_ + "--web.localhost";
  using HeaderList = std::vector<std::pair<std::string, std::string>>;
  const HeaderList browser = {{"Accept", "text/html,application/xhtml+xml"}};
  auto basic = [](const std::string& pair) {
    return HeaderList{{"Authorization", "Basic " + core::Base64Encode(pair)}};
  };

  // Bad input first: nothing changes.
  EXPECT_EQ(
      CallJson("PUT", "/api/v1/sites/web/password", json::object{{"password", ""}}, token_).status,
      422);
  Reply bad_scope = CallJson("PUT", "/api/v1/sites/web/password",
                             json::object{{"password", "x"}, {"scope", "previews"}}, token_);
  EXPECT_EQ(bad_scope.status, 422);
  EXPECT_EQ(bad_scope.body.at("error").at("code").as_string(), "invalid_password_scope");
  EXPECT_EQ(Get("/").status, 200);

  // Only previews, branches and permalinks.
  Reply set =
      CallJson("PUT", "/api/v1/sites/web/password",
               json::object{{"password", "open sesame"}, {"scope", "non_production"}}, token_);
  ASSERT_EQ(set.status, 200) << set.raw;
  EXPECT_EQ(set.body.at("has_password"), json::value(true));
  EXPECT_EQ(set.body.at("password_scope").as_string(), "non_production");
  EXPECT_EQ(set.raw.find("open sesame"), std::string::npos);
  EXPECT_EQ(set.raw.find("argon2"), std::string::npos);
  EXPECT_EQ(Get("/").raw, "home page");  // production stays public
  // `rules test` says whether the password comes first.
  Reply explained =
      CallJson("POST", "/api/v1/sites/web/rules/test", json::object{{"url", "/docs/"}}, token_);
  ASSERT_EQ(explained.status, 200) << explained.raw;
  EXPECT_EQ(explained.body.at("site_password"),
            json::parse(R"({"scope":"non_production","required":false})"));
  Reply locked = Get("/docs/", {}, "GET", permalink);
  EXPECT_EQ(locked.status, 401);
  EXPECT_EQ(locked.headers.Get("WWW-Authenticate"),
            "Basic realm=\"" + permalink + "\", charset=\"UTF-8\"");
  EXPECT_EQ(locked.raw.find("docs page"), std::string::npos);
  EXPECT_EQ(locked.headers.Get("Cache-Control"), "no-store");
  // Browsers get the sign-in page, which comes back to where they were going.
  Reply page = Get("/docs/?a=1", browser, "GET", permalink);
  EXPECT_EQ(page.status, 401);
  EXPECT_NE(page.raw.find("action=\"/.netlify/site-password\""), std::string::npos) << page.raw;
  EXPECT_NE(page.raw.find("value=\"/docs/?a=1\""), std::string::npos) << page.raw;
  // ...without a Basic challenge, which would put the browser's own prompt in front of it.
  EXPECT_FALSE(page.headers.Has("WWW-Authenticate"));

  // Basic credentials (any user name) for clients that are not browsers.
  EXPECT_EQ(Get("/docs/", basic("x:wrong"), "GET", permalink).status, 401);
  Reply with_basic = Get("/docs/", basic("anyone:open sesame"), "GET", permalink);
  EXPECT_EQ(with_basic.status, 200);
  EXPECT_EQ(with_basic.raw, "docs page");
  EXPECT_EQ(with_basic.headers.Get("Cache-Control"), "private, no-cache");

  // The sign-in form: a wrong password shows the page again; the right one sets the cookie.
  const HeaderList form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  Reply wrong =
      Get("/.netlify/site-password", form, "POST", permalink, "password=nope&return_to=%2Fdocs%2F");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.raw.find("Wrong password"), std::string::npos);
  EXPECT_FALSE(wrong.headers.Has("Set-Cookie"));
  Reply evil = Get("/.netlify/site-password", form, "POST", permalink,
                   "password=open+sesame&return_to=%2F%2Fevil.example");
  EXPECT_EQ(evil.status, 303);
  EXPECT_EQ(evil.headers.Get("Location"), "/");
  Reply right = Get("/.netlify/site-password", form, "POST", permalink,
                    "password=open+sesame&return_to=%2Fdocs%2F");
  ASSERT_EQ(right.status, 303);
  EXPECT_EQ(right.headers.Get("Location"), "/docs/");
  const std::string set_cookie(right.headers.Get("Set-Cookie"));
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Lax"), std::string::npos);
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  Reply signed_in = Get("/docs/", {{"Cookie", "a=b; " + cookie}}, "GET", permalink);
  EXPECT_EQ(signed_in.status, 200);
  EXPECT_EQ(signed_in.raw, "docs page");
  std::string forged = cookie;
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(Get("/docs/", {{"Cookie", forged}}, "GET", permalink).status, 401);

  // Every deploy, production included; a new password ends the cookies of the old one.
  ASSERT_EQ(CallJson("PUT", "/api/v1/sites/web/password",
                     json::object{{"password", "new one"}, {"scope", "all"}}, token_)
                .status,
            200);
  EXPECT_EQ(Get("/").status, 401);
  EXPECT_EQ(Get("/docs/", {{"Cookie", cookie}}, "GET", permalink).status, 401);
  explained =
      CallJson("POST", "/api/v1/sites/web/rules/test", json::object{{"url", "/docs/"}}, token_);
  EXPECT_EQ(explained.body.at("site_password").at("required"), json::value(true)) << explained.raw;
  EXPECT_EQ(Get("/", basic("u:new one")).raw, "home page");

  // Netlify's update-site call: "password" sets it, "" removes it.
  Reply patched =
      CallJson("PATCH", "/api/v1/sites/web", json::object{{"password", "third"}}, token_);
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body.at("password_scope").as_string(), "all");
  EXPECT_EQ(Get("/", basic("u:new one")).status, 401);
  EXPECT_EQ(Get("/", basic("u:third")).status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/sites/web/password", "", token_).status, 204);
  EXPECT_EQ(Get("/").raw, "home page");
  EXPECT_EQ(Get("/docs/", {}, "GET", permalink).raw, "docs page");
  EXPECT_EQ(Call("GET", "/api/v1/sites/web", "", token_).body.at("has_password"),
            json::value(false));

  // Another account can neither set nor remove it.
  const std::string other = SignUp("other-pw@example.com");
  EXPECT_EQ(
      CallJson("PUT", "/api/v1/sites/web/password", json::object{{"password", "x"}}, other).status,
      404);
  EXPECT_EQ(Call("DELETE", "/api/v1/sites/web/password", "", other).status, 404);
}

TEST_P(EdgeHttp, RuleLinesNetlifySkipsAreSkippedAndReportedInTheSummary) {
  Publish({{"index.html", "v1"}});
  Reply d = DeployAndWait({{"index.html", "v2"},
                           {"_redirects", "/r 307\n/ok /fine 301\n/also /there 302\n"},
                           {"_headers", "/*\n  X-A: 1\n  nonsense\n"}});
  ASSERT_EQ(d.body.at("state").as_string(), "ready") << d.raw;
  EXPECT_EQ(Get("/").raw, "v2") << "published";
  Reply ok = Get("/ok");
  EXPECT_EQ(ok.status, 301);
  EXPECT_EQ(ok.headers.Get("Location"), "/fine");
  EXPECT_EQ(Get("/also").status, 302);
  EXPECT_EQ(Get("/").headers.Get("X-A"), "1");

  const json::object& summary = d.body.at("summary").as_object();
  EXPECT_EQ(summary.at("status").as_string(), "ready");
  const json::array& messages = summary.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u) << d.raw;
  const json::object& first = messages[0].as_object();
  EXPECT_EQ(first.at("type").as_string(), "warning");
  EXPECT_EQ(first.at("file").as_string(), "_redirects");
  EXPECT_EQ(first.at("line").as_int64(), 1);
  EXPECT_TRUE(std::string(first.at("description").as_string())
                  .starts_with("_redirects:1: missing destination"))
      << first.at("description");
  EXPECT_EQ(first.at("details").as_string(), "/r 307");
  EXPECT_NE(std::string(first.at("title").as_string()).find("_redirects"), std::string::npos);
  EXPECT_EQ(messages[1].at("description").as_string(),
            "_headers:3: expected a path (starting with '/') or 'Name: value'");
  // The list carries the same summary.
  // (Found by id: both deploys may share a created_at millisecond, and then ids order them.)
  Reply list = Call("GET", "/api/v1/sites/web/deploys", "", token_);
  std::size_t listed_messages = 0;
  bool listed = false;
  for (const auto& entry : list.body.as_array()) {
    if (entry.at("id") != d.body.at("id")) continue;
    listed = true;
    listed_messages = entry.at("summary").at("messages").as_array().size();
  }
  EXPECT_TRUE(listed) << list.raw;
  EXPECT_EQ(listed_messages, 2u) << list.raw;
}

TEST_P(EdgeHttp, NetlifyTomlThatIsNotTomlFailsTheDeployWithItsLine) {
  Publish({{"index.html", "v1"}});
  Reply d = DeployAndWait(
      {{"index.html", "v2"}, {"netlify.toml", "[[redirects]]\nfrom = \"/a\"\nto = \n"}});
  EXPECT_EQ(d.body.at("state").as_string(), "error") << d.raw;
  EXPECT_NE(std::string(d.body.at("error_message").as_string()).find("netlify.toml:3"),
            std::string::npos)
      << d.raw;
  EXPECT_EQ(Get("/").raw, "v1") << "the live site is untouched";
}

TEST_P(EdgeHttp, ProxyRulesForwardWhenPrivateTargetsAreAllowed) {
  // A second app that allows private targets, proxying to the first server's health check.
  roles::PlatformOptions options;
  options.users = {kJwtKey, 3600, core::PasswordCost::Minimum()};
  options.edge.allow_private_proxy = true;
  roles::Platform permissive(tdb_->db(), *blobs_, clock_, options);
  http::ServerOptions server_options;
  server_options.port = 0;
  http::Server second(server_options, permissive.Resolver());
  ASSERT_TRUE(second.Listen().ok());
  second.Start();
  Publish({{"index.html", "home"},
           {"_redirects",
            "/api/* http://127.0.0.1:" + std::to_string(server_->port()) + "/:splat 200\n"}});
  http::ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(second.port()) + "/api/healthz";
  request.headers.Set("Host", "web.localhost");
  auto proxied = http::Fetch(request);
  ASSERT_TRUE(proxied.ok());
  EXPECT_EQ(proxied->status, 200);
  EXPECT_EQ(proxied->body, R"({"status":"ok"})");
  second.Stop();
}

TEST_P(EdgeHttp, ProxyRulesNeverReachLoopbackByDefault) {
  Publish({{"index.html", "home"},
           {"_redirects",
            "/api/* http://127.0.0.1:" + std::to_string(server_->port()) + "/healthz 200\n"}});
  Reply refused = Get("/api/anything");
  EXPECT_EQ(refused.status, 502);
}

// https://docs.netlify.com/routing/redirects/rewrites-proxies/ : a 200 rule can proxy "to other
// Netlify sites (internal rewrites)"; "rewrites between Netlify sites belonging to different
// teams are not allowed"; "we limit internal rewrites to one hop". A rule to another site under
// the platform's base domain is served by the edge itself, whatever the proxy settings.
TEST_P(EdgeHttp, NetlifyRewritesToAnotherSiteOfThePlatform) {
  Publish({{"index.html", "home"},
           {"_redirects",
            "/blog/* http://blog.localhost/:splat 200\n"
            "/loop/* http://blog.localhost/back/:splat 200\n"
            "/theirs/* http://theirs.localhost/:splat 200\n"}});
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "blog"}}, token_).status, 201);
  const std::string blog_deploy =
      Deploy(token_, "blog",
             {{"index.html", "blog home"},
              {"hello.html", "blog hello"},
              {"_redirects", "/back/* http://web.localhost/:splat 200\n"}},
             false);
  const std::string other = SignUp("other@example.com");
  ASSERT_EQ(CallJson("POST", "/api/v1/sites", json::object{{"name", "theirs"}}, other).status, 201);
  Deploy(other, "theirs", {{"index.html", "their home"}}, false);

  Reply hello = Get("/blog/hello?ref=web");
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.raw, "blog hello");
  EXPECT_EQ(hello.headers.Get("X-RepliDeploy-Deploy"), blog_deploy);
  EXPECT_EQ(Get("/blog/").raw, "blog home");
  EXPECT_EQ(Get("/blog/missing").status, 404);
  // blog's own rule would rewrite back to web: a second hop.
  EXPECT_EQ(Get("/loop/index.html").status, 502);
  // Another account's site.
  Reply theirs = Get("/theirs/");
  EXPECT_EQ(theirs.status, 502);
  EXPECT_EQ(theirs.raw.find("their home"), std::string::npos);
}

// https://docs.netlify.com/routing/redirects/rewrites-proxies/#custom-headers-in-proxy-redirects
// [[redirects]] `headers = {X-From = "Netlify"}` are sent to the proxied origin, and
// https://docs.netlify.com/routing/headers/#limitations: header rules are not applied to
// proxied content (the origin's answer keeps its own headers).
TEST_P(EdgeHttp, NetlifyProxyRuleHeadersReachTheOrigin) {
  // The origin answers with what it received.
  http::ServerOptions origin_options;
  origin_options.port = 0;
  http::Server origin(origin_options, [](const http::Request&) {
    http::Dispatch dispatch;
    dispatch.handler = [](http::Request& r) {
      http::Response answer = http::Response::Text(
          200, "x-from=" + std::string(r.Header("X-From")) + " target=" + r.target + "\n");
      answer.headers.Set("X-Origin", "yes");
      return answer;
    };
    return dispatch;
  });
  ASSERT_TRUE(origin.Listen().ok());
  origin.Start();
  // An edge that may proxy to loopback.
  roles::PlatformOptions options;
  options.users = {kJwtKey, 3600, core::PasswordCost::Minimum()};
  options.edge.allow_private_proxy = true;
  roles::Platform permissive(tdb_->db(), *blobs_, clock_, options);
  http::ServerOptions server_options;
  server_options.port = 0;
  http::Server edge(server_options, permissive.Resolver());
  ASSERT_TRUE(edge.Listen().ok());
  edge.Start();
  Publish({{"index.html", "home"},
           {"_headers", "/*\n  X-Frame-Options: DENY\n"},
           {"netlify.toml", "[[redirects]]\n  from = \"/api/*\"\n  to = \"http://127.0.0.1:" +
                                std::to_string(origin.port()) +
                                "/:splat\"\n  status = 200\n  force = true\n"
                                "  headers = {X-From = \"Netlify\"}\n"}});
  auto get = [&](const std::string& path) {
    http::ClientRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(edge.port()) + path;
    request.headers.Set("Host", "web.localhost");
    return http::Fetch(request);
  };
  auto proxied = get("/api/v1/items?page=2");
  ASSERT_TRUE(proxied.ok());
  EXPECT_EQ(proxied->status, 200);
  EXPECT_EQ(proxied->body, "x-from=Netlify target=/v1/items?page=2\n");
  EXPECT_EQ(proxied->headers.Get("X-Origin"), "yes");
  EXPECT_EQ(proxied->headers.Get("X-Frame-Options"), "");
  auto home = get("/");
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home->headers.Get("X-Frame-Options"), "DENY");
  edge.Stop();
  origin.Stop();
}

// A git remote that hangs: accepts connections and never answers, until Close().
class SilentRemote {
 public:
  SilentRemote() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int conn = ::accept(fd_, nullptr, nullptr);
        if (conn < 0) return;  // closed
        std::lock_guard lock(mu_);
        accepted_.push_back(conn);
        cv_.notify_all();
      }
    });
  }
  ~SilentRemote() { Close(); }

  std::uint16_t port() const { return port_; }
  // True once `n` connections were accepted (bounded wait).
  bool WaitForConnections(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return accepted_.size() >= n; });
  }
  // Closes the listener and every connection: the hung clients see the end at once.
  void Close() {
    if (fd_ < 0) return;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard lock(mu_);
    for (int conn : accepted_) ::close(conn);
    accepted_.clear();
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> accepted_;
};

// Finding: every handler shared one pool, so site creations waiting on `git ls-remote` stalled
// `/healthz`, the API and every site. With the slow pool full of them (and more queued), the
// health check, an API call and a site's file that is not in memory yet still answer.
TEST_P(EdgeHttp, SiteCreationWaitingOnGitLeavesHealthApiAndSitesAnswering) {
  Publish({{"index.html", "home"}, {"page.html", "page"}});
  roles::PlatformOptions options;
  options.users = {kJwtKey, 3600, core::PasswordCost::Minimum()};
  options.allow_private_git = true;
  roles::Platform platform(tdb_->db(), *blobs_, clock_, options);
  http::ServerOptions server_options;
  server_options.port = 0;
  server_options.handler_threads = 2;
  server_options.edge_threads = 2;
  server_options.slow_threads = 2;
  server_options.shutdown_grace = std::chrono::seconds(5);
  http::Server server(server_options, platform.Resolver());
  ASSERT_TRUE(server.Listen().ok());
  platform.SetPublicPort(server.port());
  server.Start();
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  const auto fetch = [&](const std::string& method, const std::string& path,
                         const std::string& body, const std::string& host) {
    http::ClientRequest request;
    request.method = method;
    request.url = base + path;
    request.body = body;
    request.headers.Set("Authorization", "Bearer " + token_);
    if (!host.empty()) request.headers.Set("Host", host);
    return http::Fetch(request);
  };

  SilentRemote remote;
  std::vector<std::future<Result<http::ClientResponse>>> creations;
  for (int i = 0; i < 4; ++i) {
    const std::string body = json::serialize(json::object{
        {"name", "hung-" + std::to_string(i)},
        {"repo", json::object{{"provider", "git"},
                              {"repo_url", "http://127.0.0.1:" + std::to_string(remote.port()) +
                                               "/site.git"}}}});
    creations.push_back(std::async(
        std::launch::async, [&fetch, body] { return fetch("POST", "/api/v1/sites", body, ""); }));
  }
  // Two git processes hang on the remote: every thread of the slow pool is taken.
  const bool hung = remote.WaitForConnections(2);
  if (hung) {
    auto health = fetch("GET", "/healthz", "", "");
    EXPECT_TRUE(health.ok() && health->status == 200)
        << (health.ok() ? health->body : health.error().message);
    auto sites = fetch("GET", "/api/v1/sites", "", "");
    EXPECT_TRUE(sites.ok() && sites->status == 200)
        << (sites.ok() ? sites->body : sites.error().message);
    auto page = fetch("GET", "/page.html", "", "web.localhost");
    EXPECT_TRUE(page.ok() && page->status == 200 && page->body == "page")
        << (page.ok() ? page->body : page.error().message);
  }
  remote.Close();
  EXPECT_TRUE(hung) << "git never reached the remote";
  for (auto& creation : creations) {
    auto created = creation.get();
    ASSERT_TRUE(created.ok()) << created.error().message;
    EXPECT_EQ(created->status, 422) << created->body;
  }
  server.Stop();
}

INSTANTIATE_TEST_SUITE_P(Engines, Api, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

INSTANTIATE_TEST_SUITE_P(Engines, EdgeHttp, ::testing::ValuesIn(db::testing::Engines()),
                         db::testing::EngineParamName);

}  // namespace
}  // namespace replideploy::api

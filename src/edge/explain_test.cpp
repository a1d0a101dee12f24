#include "edge/explain.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>

#include "core/crypto.hpp"
#include "edge/route.hpp"

namespace replideploy::edge {
namespace {

namespace json = boost::json;

deploys::DeployManifest Manifest(std::initializer_list<const char*> paths) {
  deploys::DeployManifest m;
  m.deploy_id = "dep1";
  for (const char* p : paths) {
    m.files.Insert(p, std::string(64, 'a'), 1, "text/html");
  }
  return m;
}

std::shared_ptr<const DeployRules> Rules(std::optional<std::string> redirects,
                                         std::optional<std::string> headers = std::nullopt,
                                         std::optional<std::string> toml = std::nullopt) {
  auto rules = DeployRules::FromFiles(redirects, headers, toml);
  EXPECT_TRUE(rules.ok()) << rules.error().message;
  return std::move(rules).value();
}

http::Request Get(const std::string& url, ExplainInput input = {}) {
  input.url = url;
  auto request = BuildExplainRequest(input, "blog.localhost");
  EXPECT_TRUE(request.ok()) << request.error().message;
  return std::move(request).value();
}

json::object Explain(const deploys::DeployManifest& m, const DeployRules& rules,
                     const http::Request& request, std::vector<std::string> roles = {}) {
  return json::parse(ExplainJson(m, rules, request, roles)).as_object();
}

std::string Str(const json::value& v) { return v.is_string() ? std::string(v.get_string()) : ""; }

std::vector<std::string> Outcomes(const json::object& e) {
  std::vector<std::string> out;
  for (const auto& r : e.at("redirects").as_array()) out.push_back(Str(r.at("outcome")));
  return out;
}

TEST(Explain, SaysWhyEachRuleDidOrDidNotAnswer) {
  const auto m = Manifest({"/index.html", "/new.html", "/blog/post.html"});
  const auto rules = Rules(
      "/old /new 301\n"
      "/news/* /blog/:splat 302\n"
      "/search q=:q /find?term=:q 302\n"
      "/us-only /us 302 Country=us\n"
      "/admin/* /admin/:splat 200 Role=admin\n"
      "/new /elsewhere 302\n"
      "/* /index.html 200\n");

  auto e = Explain(m, *rules, Get("/news/today?x=1"));
  EXPECT_EQ(Outcomes(e),
            (std::vector<std::string>{"not_matched", "matched", "not_reached", "not_reached",
                                      "not_reached", "not_reached", "not_reached"}));
  EXPECT_EQ(Str(e["redirects"].as_array()[0].at("reason")), "the path does not match /old");
  EXPECT_EQ(Str(e["answer"].at("kind")), "redirect");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 302);
  EXPECT_EQ(Str(e["answer"].at("location")), "/blog/today?x=1");
  EXPECT_EQ(Str(e["summary"]), "302 redirect to /blog/today?x=1 by _redirects:2");

  e = Explain(m, *rules, Get("/search"));
  EXPECT_EQ(Str(e["redirects"].as_array()[2].at("reason")), "the query string has no q");
  EXPECT_EQ(Outcomes(e).back(), "matched");  // the catch-all rewrite
  EXPECT_EQ(Str(e["answer"].at("kind")), "rewrite");
  EXPECT_EQ(Str(e["answer"].at("file")), "/index.html");

  ExplainInput germany;
  germany.country = "DE";
  e = Explain(m, *rules, Get("/us-only", germany));
  EXPECT_EQ(Str(e["redirects"].as_array()[3].at("reason")),
            "the country is de, the rule needs Country=us");
  ExplainInput us;
  us.country = "US";
  e = Explain(m, *rules, Get("/us-only", us));
  EXPECT_EQ(Outcomes(e)[3], "matched");

  // A file answers /new: the non-forced rule is shadowed and later rules are not reached.
  e = Explain(m, *rules, Get("/new"));
  EXPECT_EQ(Outcomes(e)[5], "shadowed");
  EXPECT_EQ(Outcomes(e)[6], "not_reached");
  EXPECT_EQ(Str(e["answer"].at("kind")), "file");
  EXPECT_EQ(Str(e["answer"].at("file")), "/new.html");
  EXPECT_EQ(Str(e["summary"]),
            "200 with the file /new.html (_redirects:6 matched, but the file shadows it: not "
            "forced)");
}

TEST(Explain, RoleRulesRefuseVisitorsWithoutTheRole) {
  const auto m = Manifest({"/index.html", "/admin/index.html", "/404.html"});
  const auto rules = Rules("/admin/* /admin/:splat 200! Role=admin\n");
  auto e = Explain(m, *rules, Get("/admin/"));
  EXPECT_EQ(Outcomes(e), std::vector<std::string>{"role_refused"});
  EXPECT_EQ(Str(e["redirects"].as_array()[0].at("reason")),
            "the visitor has no role, the rule needs Role=admin");
  EXPECT_EQ(Str(e["answer"].at("kind")), "denied");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 404);
  EXPECT_EQ(Str(e["answer"].at("file")), "/404.html");

  e = Explain(m, *rules, Get("/admin/"), {"editor", "admin"});
  EXPECT_EQ(Outcomes(e), std::vector<std::string>{"matched"});
  EXPECT_EQ(Str(e["answer"].at("kind")), "rewrite");
  EXPECT_EQ(Str(e["answer"].at("file")), "/admin/index.html");
}

TEST(Explain, StatusRulesMissingTargetsPrettyUrlsAndNotFound) {
  const auto m = Manifest({"/index.html", "/docs/index.html", "/gone.html"});
  const auto rules = Rules(
      "/old-docs /docs/missing 200\n"
      "/legal /gone 410\n"
      "/api/* https://api.example.com/:splat 200\n");
  auto e = Explain(m, *rules, Get("/old-docs"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "status");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 404);
  EXPECT_EQ(Str(e["answer"].at("rewrite")), "/docs/missing");
  EXPECT_EQ(Str(e["summary"]),
            "404 with the platform's not-found page by _redirects:1 (/docs/missing is not a file "
            "of the deploy)");

  e = Explain(m, *rules, Get("/legal"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "status");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 410);
  EXPECT_EQ(Str(e["answer"].at("file")), "/gone.html");

  e = Explain(m, *rules, Get("/api/users?id=1"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "proxy");
  EXPECT_EQ(Str(e["answer"].at("proxy")), "https://api.example.com/users?id=1");

  e = Explain(m, *rules, Get("/docs?ref=nav"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "redirect");
  EXPECT_EQ(Str(e["answer"].at("location")), "/docs/?ref=nav");
  EXPECT_NE(Str(e["summary"]).find("pretty URLs"), std::string::npos);

  e = Explain(m, *rules, Get("/nothing"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "not_found");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 404);
  EXPECT_TRUE(e["answer"].at("file").is_null());

  e = Explain(m, *rules, Get("/a/%2e%2e/%2e%2e/etc"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "bad_request");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 400);
}

TEST(Explain, HeaderRulesAndFullUrlRules) {
  const auto m = Manifest({"/index.html", "/assets/app.js"});
  const auto rules =
      Rules("https://blog.example.com/* https://www.example.com/:splat 301!\n",
            "/*\n  X-Frame-Options: DENY\n/assets/*\n  Cache-Control: immutable\n",
            "[[headers]]\nfor = \"/index.html\"\n[headers.values]\nX-From = \"toml\"\n");
  auto e = Explain(m, *rules, Get("/assets/app.js"));
  EXPECT_EQ(Str(e["redirects"].as_array()[0].at("reason")),
            "the rule is for https://blog.example.com only");
  const auto& headers = e["headers"].as_array();
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_TRUE(headers[0].at("applies").as_bool());
  EXPECT_TRUE(headers[1].at("applies").as_bool());
  EXPECT_FALSE(headers[2].at("applies").as_bool());
  EXPECT_EQ(Str(headers[2].at("source")).substr(0, 13), "netlify.toml:");
  const auto& answer_headers = e["answer"].at("headers").as_array();
  ASSERT_EQ(answer_headers.size(), 2u);
  EXPECT_EQ(Str(answer_headers[1].at("name")), "Cache-Control");

  // The edge answers over http; a full-URL rule for https does not apply to it.
  e = Explain(m, *rules, Get("http://blog.example.com/x"));
  EXPECT_EQ(Outcomes(e), std::vector<std::string>{"not_matched"});
  EXPECT_EQ(Str(e["request"].at("host")), "blog.example.com");
}

TEST(Explain, BadInputIsRefusedWithTheField) {
  ExplainInput input;
  for (const char* url : {"", "old", "//evil.example/x", "ftp://x/y", "/a b", "/a\nb"}) {
    input.url = url;
    auto r = BuildExplainRequest(input, "h");
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(r.error().message.substr(0, 4), "url:") << r.error().message;
  }
  input.url = "/";
  input.method = "GE T";
  EXPECT_FALSE(BuildExplainRequest(input, "h").ok());
  input.method = "post";
  auto post = BuildExplainRequest(input, "h");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->method, "POST");
  input.headers = {{"Bad Name", "x"}};
  EXPECT_FALSE(BuildExplainRequest(input, "h").ok());
  input.headers = {{"X-Ok", "a\r\nSet-Cookie: x"}};
  EXPECT_FALSE(BuildExplainRequest(input, "h").ok());
  input.headers = {};
  input.roles = {""};
  EXPECT_FALSE(BuildExplainRequest(input, "h").ok());
}

TEST(Explain, FormatsForATerminal) {
  const auto m = Manifest({"/index.html"});
  const auto rules = Rules("/old /new 301\n/* /index.html 200\n", "/*\n  X-Frame-Options: DENY\n");
  const std::string json_text = ExplainJson(m, *rules, Get("/old"), {});
  auto text = FormatExplanation(json_text);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("=> _redirects:1  /old /new 301\n       matched"), std::string::npos)
      << *text;
  EXPECT_NE(text->find("Answer: 301 redirect to /new by _redirects:1"), std::string::npos);
  EXPECT_NE(text->find("header: X-Frame-Options: DENY"), std::string::npos);
  EXPECT_FALSE(FormatExplanation("{}").ok());
  EXPECT_FALSE(FormatExplanation("not json").ok());
}

TEST(Explain, FormatSaysWhenTheSitePasswordComesFirst) {
  const auto m = Manifest({"/index.html"});
  const auto rules = Rules("", "");
  json::value doc = json::parse(ExplainJson(m, *rules, Get("/"), {}));
  EXPECT_EQ(FormatExplanation(json::serialize(doc))->find("Site password"), std::string::npos);
  doc.as_object()["site_password"] = {{"scope", "all"}, {"required", true}};
  auto text = FormatExplanation(json::serialize(doc));
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("Site password: required (all). Without it the edge answers 401"),
            std::string::npos)
      << *text;
  doc.as_object()["site_password"] = {{"scope", "non_production"}, {"required", false}};
  EXPECT_NE(FormatExplanation(json::serialize(doc))
                ->find("Site password: set (non_production), not asked"),
            std::string::npos);
}

// The trace evaluates every rule, the match only the indexed candidates: on random rule sets and
// requests both must agree on which rule answers.
TEST(Explain, TraceAgreesWithTheIndexedMatch) {
  std::mt19937 rng(20261205);
  const std::vector<std::string> froms = {"/a", "/a/*", "/a/:x", "/b/:x/c", "/*",   "/a*",
                                          "/b", "/b/*", "/:x/c", "/a/b",    "/c/*", "/"};
  const std::vector<std::string> extras = {"",           " Country=us", " Role=admin",
                                           " Cookie=c1", " q=1",        " q=:v"};
  const std::vector<std::string> paths = {"/",  "/a",   "/a/",  "/a/b", "/b/x/c",
                                          "/b", "/abc", "/c/d", "/x/c", "/a/b/c"};
  int agreed = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<RedirectRule> rule_list;
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      const std::string& extra = extras[rng() % extras.size()];
      const bool query = extra.starts_with(" q=");
      text += froms[rng() % froms.size()] + (query ? extra : "") + " /t" + std::to_string(i) +
              (rng() % 2 ? " 200" : " 301") + (rng() % 3 == 0 ? "!" : "") + (query ? "" : extra) +
              "\n";
    }
    auto parsed = ParseRedirectsFile(text);
    ASSERT_TRUE(parsed.ok());
    auto matcher = RedirectMatcher::Compile(*parsed);
    ASSERT_TRUE(matcher.ok());
    for (const std::string& path : paths) {
      const bool file = rng() % 2 == 0;
      const std::vector<std::string> roles =
          rng() % 2 ? std::vector<std::string>{"admin"} : std::vector<std::string>{};
      RedirectRequest req;
      req.path = path;
      req.query = rng() % 2 ? "q=1" : "";
      req.host = "h";
      req.country = rng() % 2 ? "us" : "";
      req.roles = roles;
      req.cookie_header = rng() % 2 ? "c1=x" : "";
      auto lookup = [file](std::string_view) { return file; };
      std::vector<RedirectVerdict> trace;
      const RedirectMatch plain = matcher->Match(req, lookup);
      const RedirectMatch traced = matcher->Match(req, lookup, &trace);
      ASSERT_EQ(trace.size(), parsed->size());
      EXPECT_EQ(plain.kind, traced.kind);
      std::optional<std::size_t> winner;
      for (std::size_t i = 0; i < trace.size(); ++i) {
        if (trace[i].outcome == RedirectVerdict::Outcome::kMatched ||
            trace[i].outcome == RedirectVerdict::Outcome::kShadowed) {
          ASSERT_FALSE(winner) << text << path;
          winner = i;
        }
      }
      switch (plain.kind) {
        case RedirectMatch::Kind::kRule:
          ASSERT_TRUE(winner) << text << path;
          EXPECT_EQ(*winner, plain.rule_index) << text << path;
          EXPECT_EQ(trace[*winner].outcome, RedirectVerdict::Outcome::kMatched);
          ++agreed;
          break;
        case RedirectMatch::Kind::kShadowed:
          ASSERT_TRUE(winner) << text << path;
          EXPECT_EQ(*winner, plain.rule_index) << text << path;
          EXPECT_EQ(trace[*winner].outcome, RedirectVerdict::Outcome::kShadowed);
          ++agreed;
          break;
        case RedirectMatch::Kind::kNone:
          EXPECT_FALSE(winner) << text << path;
          break;
        case RedirectMatch::Kind::kDenied:
          // No rule answered, or a shadowed one after a refused Role rule.
          if (winner) {
            EXPECT_EQ(trace[*winner].outcome, RedirectVerdict::Outcome::kShadowed);
          }
          break;
      }
    }
  }
  EXPECT_GT(agreed, 300);  // the corpus exercises matches, not only misses
}

}  // namespace
}  // namespace replideploy::edge

namespace replideploy::edge {
namespace {

TEST(Explain, BasicAuthHeaderRulesGuardThePathAndAreNeverSent) {
  const auto m = Manifest({"/index.html", "/private/index.html"});
  const auto rules = Rules("/private/old /private/ 301\n",
                           "/*\n  X-Frame-Options: DENY\n"
                           "/private/*\n  Basic-Auth: alice:secret bob:pa:ss\n"
                           "/broken/*\n  Basic-Auth: nocolon\n");
  // Basic-Auth is a rule, not a response header.
  for (const auto& [name, value] : rules->HeadersFor("/private/x")) EXPECT_NE(name, "Basic-Auth");

  auto e = Explain(m, *rules, Get("/private/old"));
  EXPECT_EQ(Str(e["answer"].at("kind")), "unauthorized");
  EXPECT_EQ(e["answer"].at("status").as_int64(), 401);
  EXPECT_EQ(Str(e["answer"].at("basic_auth")), "_headers:3");
  EXPECT_EQ(Outcomes(e), std::vector<std::string>{"not_reached"});
  EXPECT_EQ(Str(e["headers"].as_array()[1].at("values").as_array()[0].at("value")),
            "alice:*** bob:***");
  EXPECT_EQ(ExplainJson(m, *rules, Get("/private/old"), {}).find("secret"), std::string::npos);

  ExplainInput alice;
  alice.headers = {{"Authorization", "Basic " + core::Base64Encode("alice:secret")}};
  e = Explain(m, *rules, Get("/private/old", alice));
  EXPECT_EQ(Str(e["answer"].at("kind")), "redirect");
  ExplainInput bob;  // a password with a colon
  bob.headers = {{"Authorization", "Basic " + core::Base64Encode("bob:pa:ss")}};
  EXPECT_EQ(Str(Explain(m, *rules, Get("/private/", bob))["answer"].at("kind")), "file");
  ExplainInput wrong;
  wrong.headers = {{"Authorization", "Basic " + core::Base64Encode("alice:secreT")}};
  EXPECT_EQ(Str(Explain(m, *rules, Get("/private/", wrong))["answer"].at("kind")), "unauthorized");
  // Unprotected paths need nothing.
  EXPECT_EQ(Str(Explain(m, *rules, Get("/"))["answer"].at("kind")), "file");
  // A Basic-Auth rule without a well-formed credential protects with none that works.
  ExplainInput any;
  any.headers = {{"Authorization", "Basic " + core::Base64Encode("nocolon:")}};
  EXPECT_EQ(Str(Explain(m, *rules, Get("/broken/x", any))["answer"].at("kind")), "unauthorized");
}

}  // namespace
}  // namespace replideploy::edge

namespace replideploy::edge {
namespace {

// Function routes (route.hpp): the functions prefix before any rule, /api/<name> after files
// and rules, and rewrites to the functions prefix.
TEST(RouteRequest, FunctionPaths) {
  auto m = Manifest({"/index.html", "/api/static.html"});
  m.functions["hello"] = deploys::FunctionEntry{std::string(64, 'b'), "js"};
  m.functions["static"] = deploys::FunctionEntry{std::string(64, 'c'), "js"};
  const auto rules = Rules(
      "/.netlify/functions/hello /index.html 200!\n"
      "/greet /.netlify/functions/hello 200\n"
      "/gone /.netlify/functions/nope 200\n");
  auto route = [&](const std::string& path) { return RouteRequest(m, *rules, Get(path), path); };
  Route r = route("/.netlify/functions/hello");
  EXPECT_EQ(r.kind, Route::Kind::kFunction);  // no rule shadows the functions prefix
  EXPECT_EQ(r.function, "hello");
  ASSERT_NE(r.function_entry, nullptr);
  EXPECT_EQ(r.function_entry->sha256, std::string(64, 'b'));
  EXPECT_EQ(route("/.netlify/functions/hello/sub/path").kind, Route::Kind::kFunction);
  r = route("/.netlify/functions/nope");
  EXPECT_EQ(r.kind, Route::Kind::kNotFound);
  EXPECT_EQ(r.status, 404);
  r = route("/greet");
  EXPECT_EQ(r.kind, Route::Kind::kFunction);
  EXPECT_EQ(r.function, "hello");
  EXPECT_EQ(route("/gone").status, 404);
  r = route("/api/hello");
  EXPECT_EQ(r.kind, Route::Kind::kFunction);
  EXPECT_EQ(r.function, "hello");
  // A file at the path wins over /api/<name>.
  EXPECT_EQ(route("/api/static").kind, Route::Kind::kFile);
  EXPECT_EQ(route("/api/other").kind, Route::Kind::kNotFound);
  // Explained as what the edge does.
  const auto e = Explain(m, *rules, Get("/greet"));
  EXPECT_NE(Str(e.at("summary")).find("from the function hello"), std::string::npos)
      << Str(e.at("summary"));
}

}  // namespace
}  // namespace replideploy::edge

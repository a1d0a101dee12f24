// Netlify's documented redirect and header behaviours, one test each, run through the edge's own
// routing (RouteRequest on a deploy's manifest and rule files: what `rules test` explains and
// Edge::Serve acts on). Each test names the docs page it checks. Where the docs are silent or
// ambiguous, Netlify's engine (netlify-redirector, tests/oracle) is the reference. The
// behaviours that need the whole server (proxy headers reaching the origin, rewrites to another
// site of the platform) are EdgeHttp.Netlify* tests in src/roles/api_test.cpp.
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "edge/deploy_rules.hpp"
#include "edge/paths.hpp"
#include "edge/route.hpp"

namespace replideploy::edge {
namespace {

deploys::DeployManifest Site(std::initializer_list<const char*> paths) {
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
  std::vector<SkippedRule> skipped;
  auto rules = DeployRules::FromFiles(redirects, headers, toml, &skipped);
  EXPECT_TRUE(rules.ok()) << rules.error().message;
  for (const SkippedRule& s : skipped) ADD_FAILURE() << "skipped " << Describe(s);
  return std::move(rules).value();
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Route Get(const deploys::DeployManifest& m, const DeployRules& rules, const std::string& target,
          const Headers& headers = {}, std::vector<std::string> roles = {}) {
  http::Request request;
  request.method = "GET";
  request.target = target;
  request.headers.Set("Host", "site.localhost");
  for (const auto& [name, value] : headers) request.headers.Set(name, value);
  auto path = NormalizeRequestPath(std::string_view(target).substr(0, target.find('?')));
  EXPECT_TRUE(path.ok()) << target;
  return RouteRequest(m, rules, request, path.ok() ? *path : "/", roles);
}

// "301 /new?a=1", "200 file /x.html", "404 file /404.html", "404 not found",
// "proxy https://...".
std::string Answer(const Route& route) {
  const std::string status = std::to_string(route.status);
  switch (route.kind) {
    case Route::Kind::kRedirect:
      return status + " " + route.location;
    case Route::Kind::kFile:
      return status + " file " + route.file;
    case Route::Kind::kNotFound:
      return status + " not found";
    case Route::Kind::kProxy:
      return "proxy " + route.decision.target;
    case Route::Kind::kUnauthorized:
      return "401";
    case Route::Kind::kFunction:
      return "function " + route.function;
  }
  return "?";
}

// https://docs.netlify.com/routing/redirects/redirect-options/#query-parameters
// "our service automatically passes on all query string parameters to destination paths for
// redirects with 200, 301, and 302 HTTP status". A destination with a query string of its own
// keeps only that one, as netlify-redirector answers ("/withq /dest?x=1" -> "/dest?x=1").
TEST(NetlifyDocs, QueryStringsPassThroughToRedirectsAndProxies) {
  const auto m = Site({"/index.html", "/new.html"});
  const auto rules = Rules(
      "/old /new 301\n"
      "/temp /new 302\n"
      "/own /new?from=rule 302\n"
      "/pass /new 200\n"
      "/api/* https://api.example.com/:splat 200\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/old?a=1&b=two")), "301 /new?a=1&b=two");
  EXPECT_EQ(Answer(Get(m, *rules, "/temp?utm_source=x%20y")), "302 /new?utm_source=x%20y");
  EXPECT_EQ(Answer(Get(m, *rules, "/own?a=1")), "302 /new?from=rule");
  EXPECT_EQ(Answer(Get(m, *rules, "/pass?a=1")), "200 file /new.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/api/v1/users?id=7&sort=name")),
            "proxy https://api.example.com/v1/users?id=7&sort=name");
}

// https://docs.netlify.com/routing/redirects/redirect-options/#trailing-slash
// "Our CDN edge nodes do URL normalization before the redirect rules kick in": a rule's trailing
// slash is ignored, and a request with or without one matches it.
TEST(NetlifyDocs, TrailingSlashesAreIgnoredByRedirectRules) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(
      "/blog/ /news 301\n"
      "/about /info 302\n"
      "/docs/* /manual/:splat 301\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/blog")), "301 /news");
  EXPECT_EQ(Answer(Get(m, *rules, "/blog/")), "301 /news");
  EXPECT_EQ(Answer(Get(m, *rules, "/about")), "302 /info");
  EXPECT_EQ(Answer(Get(m, *rules, "/about/")), "302 /info");
  EXPECT_EQ(Answer(Get(m, *rules, "/docs")), "301 /manual/");
  EXPECT_EQ(Answer(Get(m, *rules, "/docs/intro/")), "301 /manual/intro/");
}

// https://answers.netlify.com/t/support-guide-how-can-i-alter-trailing-slash-behaviour-in-my-urls-will-enabling-pretty-urls-help/31191
// (and https://docs.netlify.com/site-deploys/post-processing/#pretty-urls): without rules, the
// file decides: "/about" serves about.html; "/docs" with only docs/index.html redirects to
// "/docs/", keeping the query string; "/about/" with only about.html redirects to "/about".
TEST(NetlifyDocs, TrailingSlashesOfFilesFollowTheFileName) {
  const auto m = Site({"/index.html", "/about.html", "/docs/index.html"});
  const auto rules = Rules(std::nullopt);
  EXPECT_EQ(Answer(Get(m, *rules, "/about")), "200 file /about.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/about/")), "301 /about");
  EXPECT_EQ(Answer(Get(m, *rules, "/docs")), "301 /docs/");
  EXPECT_EQ(Answer(Get(m, *rules, "/docs?x=1")), "301 /docs/?x=1");
  EXPECT_EQ(Answer(Get(m, *rules, "/docs/")), "200 file /docs/index.html");
}

// https://docs.netlify.com/routing/redirects/#syntax-for-the-redirects-file
// "Paths are case-sensitive".
TEST(NetlifyDocs, RedirectPathsAreCaseSensitive) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(
      "/Blog /news 301\n"
      "/shop/* /Store/:splat 302\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/Blog")), "301 /news");
  EXPECT_EQ(Answer(Get(m, *rules, "/blog")), "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/BLOG")), "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/Shop/Cart")), "404 not found");
  // The splat keeps the request's case.
  EXPECT_EQ(Answer(Get(m, *rules, "/shop/Cart")), "302 /Store/Cart");
}

// https://docs.netlify.com/routing/redirects/#syntax-for-the-redirects-file
// "special characters in paths must be url-encoded" (the docs' example:
// "/authors/c%C3%A9line /authors/about-c%C3%A9line"), and
// https://docs.netlify.com/routing/redirects/redirect-options/#splats: what a splat takes goes
// to the destination still encoded, so an encoded '?', '#' or space stays part of the path.
TEST(NetlifyDocs, EncodedCharactersMatchAndStayEncodedInSplats) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(
      "/authors/c%C3%A9line /authors/about-c%C3%A9line 301\n"
      "/news/* /blog/:splat 301\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/authors/c%C3%A9line")), "301 /authors/about-c%C3%A9line");
  EXPECT_EQ(Answer(Get(m, *rules, "/news/caf%C3%A9%20menu/2024")),
            "301 /blog/caf%C3%A9%20menu/2024");
  EXPECT_EQ(Answer(Get(m, *rules, "/news/a%3Fb%23c")), "301 /blog/a%3Fb%23c");
  EXPECT_EQ(Answer(Get(m, *rules, "/news/caf%C3%A9?page=2")), "301 /blog/caf%C3%A9?page=2");
}

// https://docs.netlify.com/routing/redirects/redirect-options/#query-parameters
// "/store id=:id /blog/:id 301" redirects "/store?id=my-blog-post" to "/blog/my-blog-post";
// "/articles id=:id tag=:tag /posts/:tag/:id 301" needs both parameters, in any order. The
// request's query string passes through as for any redirect (see the first test).
TEST(NetlifyDocs, QueryPlaceholdersFillTheDestination) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(
      "/store id=:id /blog/:id 301\n"
      "/articles id=:id tag=:tag /posts/:tag/:id 301\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/store?id=my-blog-post")),
            "301 /blog/my-blog-post?id=my-blog-post");
  EXPECT_EQ(Answer(Get(m, *rules, "/articles?id=5&tag=news")), "301 /posts/news/5?id=5&tag=news");
  EXPECT_EQ(Answer(Get(m, *rules, "/articles?tag=news&id=5")), "301 /posts/news/5?tag=news&id=5");
  EXPECT_EQ(Answer(Get(m, *rules, "/articles?id=5")), "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/store")), "404 not found");
  // Query values are decoded and go out form-encoded, as netlify-redirector substitutes them
  // ("id=a%20b" and "id=a+b" both give "/blog/a+b").
  EXPECT_EQ(Answer(Get(m, *rules, "/store?id=a+b")), "301 /blog/a+b?id=a+b");
  EXPECT_EQ(Answer(Get(m, *rules, "/store?id=a%20b")), "301 /blog/a+b?id=a%20b");
}

// https://docs.netlify.com/routing/redirects/rewrites-proxies/#shadowing
// "By default, you can't shadow a URL that actually exists within the site. This applies to
// rewrites using a splat or dynamic path segment as well as rewrites for individual routes or
// files": "/*  /index.html  200" still serves /partials/chat.html. A '!' after the status
// forces the rule over the file ("/app/*  /app/index.html  200!").
TEST(NetlifyDocs, ExistingFilesShadowRulesUnlessForced) {
  const auto m = Site({"/index.html", "/partials/chat.html", "/app/index.html", "/app/old.html",
                       "/old.html", "/older.html"});
  const auto rules = Rules(
      "/app/* /app/index.html 200!\n"
      "/old.html /new 301\n"
      "/older.html /new 301!\n"
      "/* /index.html 200\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/partials/chat.html")), "200 file /partials/chat.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/partials/missing")), "200 file /index.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/app/old.html")), "200 file /app/index.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/old.html")), "200 file /old.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/older.html")), "301 /new");
}

// https://docs.netlify.com/routing/redirects/redirect-options/#custom-404-page-handling
// A 404.html is served, with status 404, for every path no file or rule answers; a 404 rule
// shows its destination with status 404 ("/ecommerce  /store-closed  404"), and language
// folders get their own ("/en/*  /en/404.html  404").
TEST(NetlifyDocs, NotFoundRulesServeTheirPageWithStatus404) {
  const auto m =
      Site({"/index.html", "/404.html", "/store-closed.html", "/en/404.html", "/en/a.html"});
  const auto rules = Rules(
      "/ecommerce /store-closed 404\n"
      "/en/* /en/404.html 404\n");
  EXPECT_EQ(Answer(Get(m, *rules, "/ecommerce")), "404 file /store-closed.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/en/nope")), "404 file /en/404.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/en/a")), "200 file /en/a.html");  // not forced: shadowed
  EXPECT_EQ(Answer(Get(m, *rules, "/elsewhere")), "404 file /404.html");
  // Without a 404.html, the platform's own page.
  const auto bare = Site({"/index.html"});
  EXPECT_EQ(Answer(Get(bare, *rules, "/ecommerce")), "404 not found");
  EXPECT_EQ(Answer(Get(bare, *rules, "/elsewhere")), "404 not found");
}

// https://docs.netlify.com/routing/headers/#syntax-for-the-headers-file
// "Paths can contain * wildcards and :placeholders. A :placeholder matches anything except /,
// while a * wildcard matches anything." Every matching rule applies.
TEST(NetlifyDocs, HeaderRulesWithWildcardsAndPlaceholders) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(std::nullopt,
                           "/*\n"
                           "  X-Frame-Options: DENY\n"
                           "/templates/*\n"
                           "  X-Robots-Tag: noindex\n"
                           "/*.js\n"
                           "  Cache-Control: public, max-age=31536000\n"
                           "/:lang/about\n"
                           "  X-About: yes\n");
  EXPECT_EQ(Get(m, *rules, "/").headers, (HeaderList{{"X-Frame-Options", "DENY"}}));
  EXPECT_EQ(Get(m, *rules, "/templates/a/b.html").headers,
            (HeaderList{{"X-Frame-Options", "DENY"}, {"X-Robots-Tag", "noindex"}}));
  EXPECT_EQ(
      Get(m, *rules, "/static/js/app.js").headers,
      (HeaderList{{"X-Frame-Options", "DENY"}, {"Cache-Control", "public, max-age=31536000"}}));
  EXPECT_EQ(Get(m, *rules, "/fr/about").headers,
            (HeaderList{{"X-Frame-Options", "DENY"}, {"X-About", "yes"}}));
  EXPECT_EQ(Get(m, *rules, "/fr/ca/about").headers, (HeaderList{{"X-Frame-Options", "DENY"}}));
  // Header rules apply to what a redirect answers too, by the request's path.
  const auto with_redirect = Rules("/moved /index.html 301\n", "/moved\n  X-Moved: 1\n");
  const Route moved = Get(m, *with_redirect, "/moved");
  EXPECT_EQ(Answer(moved), "301 /index.html");
  EXPECT_EQ(moved.headers, (HeaderList{{"X-Moved", "1"}}));
}

// https://docs.netlify.com/routing/headers/#multi-value-headers
// A header listed several times in one rule is sent once with the values joined by ", "; in
// netlify.toml a multi-line value becomes one comma-separated value.
TEST(NetlifyDocs, MultipleValuesOfOneHeaderAreJoined) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(std::nullopt,
                           "/*\n"
                           "  cache-control: max-age=0\n"
                           "  cache-control: no-cache\n"
                           "  cache-control: no-store\n"
                           "  cache-control: must-revalidate\n");
  EXPECT_EQ(Get(m, *rules, "/").headers,
            (HeaderList{{"cache-control", "max-age=0, no-cache, no-store, must-revalidate"}}));
  const auto toml = Rules(std::nullopt, std::nullopt,
                          "[[headers]]\n"
                          "  for = \"/*\"\n"
                          "  [headers.values]\n"
                          "    cache-control = '''\n"
                          "    max-age=0,\n"
                          "    no-cache,\n"
                          "    no-store,\n"
                          "    must-revalidate'''\n");
  EXPECT_EQ(Get(m, *toml, "/").headers,
            (HeaderList{{"cache-control", "max-age=0, no-cache, no-store, must-revalidate"}}));
}

// https://docs.netlify.com/configure-builds/file-based-configuration/#headers
// [[headers]] `for` takes the same patterns as `_headers`, and `_headers` rules come first.
TEST(NetlifyDocs, NetlifyTomlHeaderPatterns) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(std::nullopt, "/*\n  X-From-File: 1\n",
                           "[[headers]]\n"
                           "  for = \"/*\"\n"
                           "  [headers.values]\n"
                           "    X-Frame-Options = \"DENY\"\n"
                           "[[headers]]\n"
                           "  for = \"/assets/*\"\n"
                           "  [headers.values]\n"
                           "    Cache-Control = \"public, max-age=604800\"\n"
                           "[[headers]]\n"
                           "  for = \"/blog/:slug\"\n"
                           "  [headers.values]\n"
                           "    X-Post = \"yes\"\n");
  EXPECT_EQ(Get(m, *rules, "/").headers,
            (HeaderList{{"X-From-File", "1"}, {"X-Frame-Options", "DENY"}}));
  EXPECT_EQ(Get(m, *rules, "/assets/img/logo.png").headers,
            (HeaderList{{"X-From-File", "1"},
                        {"X-Frame-Options", "DENY"},
                        {"Cache-Control", "public, max-age=604800"}}));
  EXPECT_EQ(Get(m, *rules, "/blog/hello").headers,
            (HeaderList{{"X-From-File", "1"}, {"X-Frame-Options", "DENY"}, {"X-Post", "yes"}}));
  EXPECT_EQ(Get(m, *rules, "/blog/hello/comments").headers,
            (HeaderList{{"X-From-File", "1"}, {"X-Frame-Options", "DENY"}}));
}

// https://docs.netlify.com/configure-builds/file-based-configuration/#redirects
// The docs' [[redirects]] example: `query = {path = ":path"}` and
// `conditions = {Language = ["en"], Country = ["US"]}` must all hold; `Role` conditions refuse
// visitors without the role
// (https://docs.netlify.com/routing/redirects/redirect-options/#redirect-by-role).
TEST(NetlifyDocs, NetlifyTomlRedirectConditions) {
  const auto m = Site({"/index.html", "/new-path.html", "/admin/index.html"});
  const auto rules = Rules(std::nullopt, std::nullopt,
                           "[[redirects]]\n"
                           "  from = \"/old-path\"\n"
                           "  to = \"/new-path\"\n"
                           "  status = 301\n"
                           "  force = false\n"
                           "  query = {path = \":path\"}\n"
                           "  conditions = {Language = [\"en\"], Country = [\"US\"]}\n"
                           "[[redirects]]\n"
                           "  from = \"/admin/*\"\n"
                           "  to = \"/admin/index.html\"\n"
                           "  status = 200\n"
                           "  force = true\n"
                           "  conditions = {Role = [\"admin\"]}\n");
  const Headers us_en = {{"X-Country", "us"}, {"Accept-Language", "en-GB,en;q=0.8"}};
  EXPECT_EQ(Answer(Get(m, *rules, "/old-path?path=example", us_en)), "301 /new-path?path=example");
  EXPECT_EQ(Answer(Get(m, *rules, "/old-path", us_en)), "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/old-path?path=example",
                       {{"X-Country", "de"}, {"Accept-Language", "en"}})),
            "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/old-path?path=example",
                       {{"X-Country", "us"}, {"Accept-Language", "fr"}})),
            "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/admin/users", {}, {"admin"})), "200 file /admin/index.html");
  EXPECT_EQ(Answer(Get(m, *rules, "/admin/users", {}, {"editor"})), "404 not found");
  EXPECT_EQ(Answer(Get(m, *rules, "/admin/users")), "404 not found");
}

// https://docs.netlify.com/routing/redirects/rewrites-proxies/#custom-headers-in-proxy-redirects
// [[redirects]] `headers` go to the proxied origin with the request (EdgeHttp.NetlifyProxy*
// checks that they arrive); and https://docs.netlify.com/routing/headers/#limitations "Custom
// headers apply only to files Netlify serves from our own backing store. If you are proxying
// content to your site [...] custom headers won't be applied to that content."
TEST(NetlifyDocs, ProxyRulesCarryTheirHeadersAndGetNoHeaderRules) {
  const auto m = Site({"/index.html"});
  const auto rules = Rules(std::nullopt, "/*\n  X-Frame-Options: DENY\n",
                           "[[redirects]]\n"
                           "  from = \"/api/*\"\n"
                           "  to = \"https://api.example.com/:splat\"\n"
                           "  status = 200\n"
                           "  force = true\n"
                           "  headers = {X-From = \"Netlify\"}\n");
  const Route api = Get(m, *rules, "/api/v1/items?page=2");
  EXPECT_EQ(Answer(api), "proxy https://api.example.com/v1/items?page=2");
  EXPECT_EQ(api.decision.proxy_headers, (HeaderList{{"X-From", "Netlify"}}));
  EXPECT_TRUE(api.headers.empty()) << api.headers.front().first;
  EXPECT_EQ(Get(m, *rules, "/").headers, (HeaderList{{"X-Frame-Options", "DENY"}}));
}

}  // namespace
}  // namespace replideploy::edge

#include "deploys/url_pattern.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace replideploy::deploys {
namespace {

using Params = std::map<std::string, std::string>;

UrlPattern P(std::string_view source) {
  auto parsed = UrlPattern::Parse(source);
  EXPECT_TRUE(parsed.ok()) << source << ": " << parsed.error().message;
  return parsed.ok() ? std::move(parsed).value() : *UrlPattern::Parse("/never-matches-anything");
}

// What a match yields, or "no".
std::string M(std::string_view pattern, std::string_view path) {
  Params params;
  if (!P(pattern).Match(path, &params)) return "no";
  std::string out = "yes";
  for (const auto& [k, v] : params) out += " " + k + "=" + v;
  return out;
}

// Netlify's documented examples (docs.netlify.com, functions "Routing").
TEST(UrlPattern, NetlifyDocumentedExamples) {
  EXPECT_EQ(M("/travel-guide/:city/:country", "/travel-guide/paris/france"),
            "yes city=paris country=france");
  EXPECT_EQ(M("/travel-guide/:city/:country", "/travel-guide/paris"), "no");
  EXPECT_EQ(M("/travel-guide/:city/:country", "/travel-guide/paris/france/louvre"), "no");
  EXPECT_EQ(M("/hello", "/hello"), "yes");
  EXPECT_EQ(M("/hello", "/hello/"), "yes");
  EXPECT_EQ(M("/hello", "/hello/x"), "no");
  EXPECT_EQ(M("/hello", "/Hello"), "no");  // case-sensitive
  EXPECT_EQ(M("/sale/*", "/sale/shoes/red"), "yes 0=shoes/red");
  EXPECT_EQ(M("/sale/*", "/sale/"), "yes 0=");
  EXPECT_EQ(M("/sale/*", "/sale"), "no");
  EXPECT_EQ(M("/api/items/:id", "/api/items/42"), "yes id=42");
  EXPECT_EQ(M("/api/items/:id", "/api/items/"), "no");
  EXPECT_EQ(M("/blog/*", "/blog/2024/01/post"), "yes 0=2024/01/post");
  EXPECT_EQ(M("/*", "/anything/at/all"), "yes 0=anything/at/all");
}

// The URLPattern specification's (and MDN's) pathname examples.
TEST(UrlPattern, UrlPatternSyntax) {
  EXPECT_EQ(M("/books/:id(\\d+)", "/books/123"), "yes id=123");
  EXPECT_EQ(M("/books/:id(\\d+)", "/books/abc"), "no");
  EXPECT_EQ(M("/books{/}?", "/books"), "yes");
  EXPECT_EQ(M("/books{/}?", "/books/"), "yes");
  EXPECT_EQ(M("/:product/:action?", "/shoes"), "yes product=shoes");
  EXPECT_EQ(M("/:product/:action?", "/shoes/buy"), "yes action=buy product=shoes");
  EXPECT_EQ(M("/files/:path*", "/files"), "yes");
  EXPECT_EQ(M("/files/:path*", "/files/a/b/c"), "yes path=a/b/c");
  EXPECT_EQ(M("/files/:path+", "/files"), "no");
  EXPECT_EQ(M("/files/:path+", "/files/a/b"), "yes path=a/b");
  EXPECT_EQ(M("/books{/:id}?", "/books"), "yes");
  EXPECT_EQ(M("/books{/:id}?", "/books/7"), "yes id=7");
  EXPECT_EQ(M("/post/:slug.html", "/post/hello.html"), "yes slug=hello");
  EXPECT_EQ(M("/x/*/y/*", "/x/a/b/y/c"), "yes 0=a/b 1=c");
  EXPECT_EQ(M("/a\\:b", "/a:b"), "yes");
  EXPECT_EQ(M("/v(1|2)/*", "/v2/z"), "yes 0=2 1=z");
  EXPECT_EQ(M("/v(1|2)/*", "/v3/z"), "no");
  EXPECT_TRUE(P("/a\\:b").literal());
  EXPECT_TRUE(P("/api/hello").literal());
  EXPECT_FALSE(P("/api/:name").literal());
}

TEST(UrlPattern, RefusesBadPatterns) {
  for (const char* bad : {"", "api", "/a/:", "/a/(", "/a/()", "/a/{b", "/a/}", "/a/?", "/a/(?x)",
                          "/a/:id/:id", "/a/([)", "/a\\", "/a/*/*/*/*/*"}) {
    auto parsed = UrlPattern::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().detail_code, "invalid_path_pattern") << bad;
    }
  }
  EXPECT_FALSE(UrlPattern::Parse("/" + std::string(3000, 'a')).ok());
}

// A pattern that backtracks a lot stays quick on a long path: failed (part, position) pairs are
// remembered.
TEST(UrlPattern, ManyWildcardsOnALongPathFinish) {
  const UrlPattern p = P("/*a*a*a*b");
  EXPECT_FALSE(p.Match("/" + std::string(300, 'a')));
  EXPECT_TRUE(p.Match("/" + std::string(300, 'a') + "b"));
  // Past the bounds: more open parts are refused, a longer path matches no pattern.
  EXPECT_FALSE(UrlPattern::Parse("/*a*a*a*a*b").ok());
  EXPECT_FALSE(p.Match("/" + std::string(2000, 'a') + "b"));
  EXPECT_TRUE(P("/a").Match("/a"));
}

}  // namespace
}  // namespace replideploy::deploys

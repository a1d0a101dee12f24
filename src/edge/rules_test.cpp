#include "edge/rules.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace replideploy::edge {
namespace {

namespace fs = std::filesystem;

std::vector<RedirectRule> ParseRedirects(std::string_view text) {
  auto rules = ParseRedirectsFile(text);
  EXPECT_TRUE(rules.ok()) << rules.error().message;
  return rules.ok() ? *rules : std::vector<RedirectRule>{};
}

std::string ParseError(std::string_view text) {
  auto rules = ParseRedirectsFile(text);
  if (rules.ok()) return "(parsed)";
  EXPECT_EQ(rules.error().code, ErrorCode::kUnprocessable);
  return rules.error().message;
}

// The rules kept and what was skipped, as "<file>:<line>: <reason>".
struct Parsed {
  std::vector<RedirectRule> rules;
  std::vector<std::string> skipped;
  std::vector<SkippedRule> raw;
};

Parsed ParseSkipping(std::string_view text, std::string_view file = "_redirects") {
  Parsed out;
  auto rules = ParseRedirectsFile(text, file, &out.raw);
  EXPECT_TRUE(rules.ok()) << rules.error().message;
  if (rules.ok()) out.rules = *rules;
  for (const auto& s : out.raw) out.skipped.push_back(Describe(s));
  return out;
}

// The one reason a single-line file is skipped for, or "(kept)".
std::string SkipReason(std::string_view line) {
  Parsed p = ParseSkipping(std::string(line) + "\n");
  if (p.skipped.empty()) return "(kept)";
  EXPECT_TRUE(p.rules.empty()) << line;
  return p.skipped.front();
}

std::vector<std::string> Sources(const std::vector<RedirectRule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.source);
  return out;
}

RedirectMatcher Compile(std::string_view text) {
  auto matcher = RedirectMatcher::Compile(ParseRedirects(text));
  EXPECT_TRUE(matcher.ok()) << matcher.error().message;
  return std::move(matcher).value();
}

struct Req {
  std::string path = "/";
  std::string query;
  std::string host = "site.test";
  std::string scheme = "https";
  std::string country;
  std::string language;
  std::vector<std::string> roles;
  std::string cookie;
  bool has_file = false;
};

RedirectMatch Match(const RedirectMatcher& matcher, const Req& r) {
  RedirectRequest request;
  request.path = r.path;
  request.query = r.query;
  request.host = r.host;
  request.scheme = r.scheme;
  request.country = r.country;
  request.accept_language = r.language;
  request.roles = r.roles;
  request.cookie_header = r.cookie;
  return matcher.Match(request, [&](std::string_view) { return r.has_file; });
}

RedirectMatch Match(const RedirectMatcher& matcher, std::string path) {
  Req r;
  r.path = std::move(path);
  return Match(matcher, r);
}

// "rule 2 -> /target" or "none"/"shadowed N"/"denied", for compact expectations.
std::string Decide(const RedirectMatcher& matcher, const Req& r) {
  const RedirectMatch m = Match(matcher, r);
  switch (m.kind) {
    case RedirectMatch::Kind::kNone:
      return "none";
    case RedirectMatch::Kind::kDenied:
      return "denied";
    case RedirectMatch::Kind::kShadowed:
      return "shadowed " + std::to_string(m.rule_index);
    case RedirectMatch::Kind::kRule:
      return "rule " + std::to_string(m.rule_index) + " -> " + m.target;
  }
  return "?";
}

std::string Decide(const RedirectMatcher& matcher, std::string path) {
  Req r;
  r.path = std::move(path);
  return Decide(matcher, r);
}

// ---------------------------------------------------------------------------------------------
// _redirects parser

TEST(RedirectsParser, ReadsFieldsOfALine) {
  auto rules = ParseRedirects(
      "# comment\n"
      "\n"
      "/store id=:id page=2  /blog/:id?x=1  302!  Country=US,ca Language=en Role=admin "
      "Cookie=beta Sign=SECRET\n");
  ASSERT_EQ(rules.size(), 1u);
  const RedirectRule& r = rules[0];
  EXPECT_EQ(r.from, "/store");
  EXPECT_EQ(r.to, "/blog/:id?x=1");
  EXPECT_EQ(r.status, 302);
  EXPECT_TRUE(r.force);
  ASSERT_EQ(r.query.size(), 2u);
  EXPECT_EQ(r.query[0].key, "id");
  EXPECT_TRUE(r.query[0].is_placeholder);
  EXPECT_EQ(r.query[0].value, "id");
  EXPECT_EQ(r.query[1].key, "page");
  EXPECT_FALSE(r.query[1].is_placeholder);
  EXPECT_EQ(r.query[1].value, "2");
  ASSERT_EQ(r.conditions.size(), 4u);
  EXPECT_EQ(r.conditions[0].kind, RedirectCondition::Kind::kCountry);
  EXPECT_EQ(r.conditions[0].values, (std::vector<std::string>{"us", "ca"}));
  EXPECT_EQ(r.conditions[3].kind, RedirectCondition::Kind::kCookie);
  EXPECT_EQ(r.signed_env, "SECRET");
  EXPECT_EQ(r.source, "_redirects:3");
}

TEST(RedirectsParser, DefaultsToPermanentRedirect) {
  auto rules = ParseRedirects("/a /b\n");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].status, 301);
  EXPECT_FALSE(rules[0].force);
}

TEST(RedirectsParser, InlineCommentsEndTheRule) {
  auto rules = ParseRedirects("/a /b 302 # moved\n/c /d#frag\n");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].status, 302);
  EXPECT_EQ(rules[1].to, "/d#frag");  // '#' inside a token is not a comment
}

TEST(RedirectsParser, AcceptsTabsCrLfAndByteOrderMark) {
  auto rules = ParseRedirects("\xEF\xBB\xBF/a\t\t/b\t302\r\n/c /d\r\n");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].to, "/b");
  EXPECT_EQ(rules[1].from, "/c");
}

TEST(RedirectsParser, FullUrlFromKeepsSchemeAndLowerCasedHost) {
  auto rules = ParseRedirects(
      "https://Old.Example.com/* https://new.example.com/:splat 301!\n"
      "http://blog.example.com /blog\n");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].scheme, "https");
  EXPECT_EQ(rules[0].host, "old.example.com");
  EXPECT_EQ(rules[0].from, "/*");
  EXPECT_EQ(rules[1].from, "/");  // a URL without a path means its root
}

TEST(RedirectsParser, SplatRuleWithoutDestinationRewritesToItself) {
  auto rules = ParseRedirects("/app/* 200!\n");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].to, "/app/:splat");
  EXPECT_EQ(rules[0].status, 200);
  EXPECT_TRUE(rules[0].force);
  EXPECT_NE(SkipReason("/app/* 301"), "(kept)");
  EXPECT_NE(SkipReason("/app 200"), "(kept)");
}

TEST(RedirectsParser, AcceptsStatusesFrom200To599) {
  for (int status : {200, 201, 301, 302, 303, 307, 308, 401, 403, 404, 410, 451, 500, 503}) {
    auto rules = ParseRedirects("/a /b " + std::to_string(status) + "\n");
    ASSERT_EQ(rules.size(), 1u);
    EXPECT_EQ(rules[0].status, status);
  }
  for (const char* bad : {"0", "199", "600", "999", "3010", "0301", "301!!", "!", "abc", "3O1"}) {
    EXPECT_NE(SkipReason(std::string("/a /b ") + bad), "(kept)") << bad;
  }
}

TEST(RedirectsParser, ConditionNamesAreCaseInsensitive) {
  auto rules = ParseRedirects("/a /b 302 country=us LANGUAGE=en\n");
  ASSERT_EQ(rules.size(), 1u);
  ASSERT_EQ(rules[0].conditions.size(), 2u);
  EXPECT_EQ(rules[0].conditions[1].kind, RedirectCondition::Kind::kLanguage);
}

TEST(RedirectsParser, SkippedLinesNameFileLineReasonAndText) {
  Parsed p = ParseSkipping("/a /b\n\n# c\n  /c   \n", "site/_redirects");
  EXPECT_EQ(Sources(p.rules), (std::vector<std::string>{"site/_redirects:1"}));
  ASSERT_EQ(p.raw.size(), 1u);
  EXPECT_EQ(p.raw[0].file, "site/_redirects");
  EXPECT_EQ(p.raw[0].line, 4u);
  EXPECT_EQ(p.raw[0].reason, "missing destination");
  EXPECT_EQ(p.raw[0].text, "/c");
  EXPECT_EQ(Describe(p.raw[0]), "site/_redirects:4: missing destination");
}

TEST(RedirectsParser, ABadLineIsSkippedAndTheRestApplies) {
  // The issue's two files: Netlify publishes both and applies the valid rules.
  Parsed star = ParseSkipping("/mid/*.jpg /img\n/a /b\n");
  EXPECT_EQ(Sources(star.rules), (std::vector<std::string>{"_redirects:2"}));
  EXPECT_EQ(star.skipped,
            (std::vector<std::string>{"_redirects:1: '*' is only allowed at the end of FROM"}));

  Parsed status = ParseSkipping("/r 307\n/a /b\n/c /d 302\n");
  EXPECT_EQ(Sources(status.rules), (std::vector<std::string>{"_redirects:2", "_redirects:3"}));
  EXPECT_EQ(status.rules[1].status, 302);
  ASSERT_EQ(status.skipped.size(), 1u);
  EXPECT_TRUE(status.skipped[0].starts_with("_redirects:1: missing destination"))
      << status.skipped[0];

  // Without a place to report them, skipped lines are just left out.
  auto quiet = ParseRedirectsFile("/a /b\n/c /d 999\n/e /f\n");
  ASSERT_TRUE(quiet.ok()) << quiet.error().message;
  EXPECT_EQ(Sources(*quiet), (std::vector<std::string>{"_redirects:1", "_redirects:3"}));
}

TEST(RedirectsParser, SkipsWhatCouldNeverMatchOrWouldMislead) {
  const char* bad[] = {
      "/a",                        // no destination
      "a /b",                      // relative FROM
      "/a b",                      // relative TO
      "/a ftp://x/y",              // not http(s)
      "/a https:///x",             // no host
      "/a //evil.test/x",          // protocol-relative
      "/a /\\evil.test",           // backslash
      "/a?x=1 /b",                 // '?' in FROM
      "/a//b /c",                  // empty segment
      "/blog/*/x /c",              // '*' not at the end
      "/*.html /c",                // '*' inside a segment
      "/p/:id* /q",                // '*' in a placeholder name
      "/.netlify/functions/x /y",  // platform routes
      "/a%2Fb /c",                 // encoded slash
      "/a%zz /c",                  // malformed escape
      "/a k= /b",                  // empty query value
      "/a =v /b",                  // empty query key
      "/a k=1 k=2 /b",             // repeated key
      "/a k=x&y /b",               // '&' in a value
      "/a /b Country=us",          // condition without status
      "/a /b 301 Colour=red",      // unknown condition
      "/a /b 301 Country",         // not NAME=VALUE
      "/a /b 301 Country=",        // empty list
      "/a /b 301 Country=us,",     // empty item
      "/a /b 301 Role=x Role=y",   // repeated condition
      "https://bad_host!/a /b",    // host characters
      "/a /b 999",                 // status out of range
      "/a /b 0301",                // not three digits
  };
  for (const char* line : bad) {
    const std::string reason = SkipReason(line);
    EXPECT_TRUE(reason.starts_with("_redirects:1: ")) << line << " -> " << reason;
  }
  EXPECT_EQ(SkipReason("/a /b 301 Country=us"), "(kept)");
}

TEST(RedirectsParser, SkipsNulControlCharactersAndInvalidUtf8) {
  Parsed p =
      ParseSkipping(std::string_view("/a /b\n/c\0 /d\n/e /f\x01\n/caf\xE9 /cafe\n/g /h\n", 38));
  EXPECT_EQ(Sources(p.rules), (std::vector<std::string>{"_redirects:1", "_redirects:5"}));
  EXPECT_EQ(p.skipped,
            (std::vector<std::string>{"_redirects:2: NUL byte", "_redirects:3: control character",
                                      "_redirects:4: not valid UTF-8"}));
  // The unprintable line itself is not kept.
  for (const auto& s : p.raw) EXPECT_EQ(s.text, "");
}

TEST(RedirectsParser, LimitsLineLengthRuleCountAndFileSize) {
  const std::string long_line = "/a /" + std::string(kMaxRuleLineBytes, 'b') + "\n/c /d\n";
  Parsed p = ParseSkipping(long_line);
  EXPECT_EQ(Sources(p.rules), (std::vector<std::string>{"_redirects:2"}));
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_NE(p.skipped[0].find("longer than"), std::string::npos);

  std::string many;
  for (std::size_t i = 0; i <= kMaxRules + 5; ++i) many += "/r" + std::to_string(i) + " /x\n";
  Parsed capped = ParseSkipping(many);
  EXPECT_EQ(capped.rules.size(), kMaxRules);
  ASSERT_EQ(capped.skipped.size(), 1u);  // one entry for the rest, not one per line
  EXPECT_NE(capped.skipped[0].find("more than 10000 rules"), std::string::npos);

  const std::string huge(kMaxRuleFileBytes + 1, '#');
  EXPECT_NE(ParseError(huge).find("larger than"), std::string::npos);
}

TEST(RedirectsParser, SkippedTextIsCutAtACharacterBoundary) {
  const std::string line = "/x " + std::string(kSkippedTextBytes - 4, 'a') + "\xC3\xA9 /y 999";
  Parsed p = ParseSkipping(line);
  ASSERT_EQ(p.raw.size(), 1u);
  EXPECT_LE(p.raw[0].text.size(), kSkippedTextBytes);
  EXPECT_EQ(p.raw[0].text, line.substr(0, kSkippedTextBytes - 1));
}

TEST(RedirectsParser, GarbageNeverCrashes) {
  // Deterministic pseudo-random lines from the syntax's alphabet: every outcome is a value.
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  const std::string alphabet = "/:*!=?#%&,. \tabcHTtps0123456789\\\x80\xC3\xA9";
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int len = static_cast<int>(next() % 60);
    for (int i = 0; i < len; ++i) text.push_back(alphabet[next() % alphabet.size()]);
    auto rules = ParseRedirectsFile(text);
    if (rules.ok()) {
      auto matcher = RedirectMatcher::Compile(*rules);
      ASSERT_TRUE(matcher.ok()) << text << ": " << matcher.error().message;
      Match(*matcher, "/abc/def");
    }
    (void)ParseHeadersFile(text);
    (void)ParseNetlifyToml(text);
  }
}

// ---------------------------------------------------------------------------------------------
// _headers parser

TEST(HeadersParser, ReadsPathsAndHeaders) {
  auto rules = ParseHeadersFile(
      "# comment\n"
      "/templates/index.html\n"
      "  X-Frame-Options: DENY\n"
      "  X-XSS-Protection: 1; mode=block\n"
      "/*\n"
      "  cache-control: max-age=0\n"
      "  Cache-Control: no-cache\n"
      "  Link: <https://example.com/a.css>; rel=preload\n");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].path, "/templates/index.html");
  EXPECT_EQ((*rules)[0].values,
            (HeaderList{{"X-Frame-Options", "DENY"}, {"X-XSS-Protection", "1; mode=block"}}));
  // A name repeated in one rule is comma-joined; the value keeps its own ':'.
  EXPECT_EQ((*rules)[1].values, (HeaderList{{"cache-control", "max-age=0, no-cache"},
                                            {"Link", "<https://example.com/a.css>; rel=preload"}}));
  EXPECT_EQ((*rules)[1].source, "_headers:5");
}

std::vector<std::string> HeaderSkips(std::string_view text,
                                     std::vector<HeaderRule>* rules = nullptr) {
  std::vector<SkippedRule> skipped;
  auto parsed = ParseHeadersFile(text, "_headers", &skipped);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  if (rules != nullptr && parsed.ok()) *rules = *parsed;
  std::vector<std::string> out;
  for (const auto& s : skipped) out.push_back(Describe(s));
  return out;
}

TEST(HeadersParser, SkipsBadHeaderLinesAndKeepsTheRest) {
  std::vector<HeaderRule> rules;
  EXPECT_EQ(HeaderSkips("X-A: 1\n/a\n  X-B: 2\n  nonsense\n  X-C:\n  X D: 1\n  : v\n"
                        "  X-E: a\x01b\n  X-F: 3\n",
                        &rules),
            (std::vector<std::string>{
                "_headers:1: header 'X-A' comes before any path",
                "_headers:4: expected a path (starting with '/') or 'Name: value'",
                "_headers:5: missing value for header 'X-C'",
                "_headers:6: invalid header name 'X D'",
                "_headers:7: missing header name",
                "_headers:8: control character",
            }));
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].values, (HeaderList{{"X-B", "2"}, {"X-F", "3"}}));
}

TEST(HeadersParser, SkippedPathTakesItsHeadersWithIt) {
  // The headers under a skipped path never land on the rule before it.
  std::vector<HeaderRule> rules;
  const auto skipped = HeaderSkips(
      "/a\n  X-A: 1\nhttps://example.com/*\n  X-B: 2\n/bad%zz\n  X-C: 3\n/c\n  X-D: 4\n", &rules);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_TRUE(skipped[0].starts_with("_headers:3: header rules take a path, not a URL"))
      << skipped[0];
  EXPECT_TRUE(skipped[1].starts_with("_headers:5: ")) << skipped[1];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].values, (HeaderList{{"X-A", "1"}}));
  EXPECT_EQ(rules[1].path, "/c");
  EXPECT_EQ(rules[1].values, (HeaderList{{"X-D", "4"}}));
}

// ---------------------------------------------------------------------------------------------
// netlify.toml

TEST(NetlifyToml, ReadsRedirectAndHeaderTables) {
  auto rules = ParseNetlifyToml(R"(
[build]
command = "make"

[[redirects]]
from = "/api/*"
to = "https://api.example.com/:splat"
status = 200
force = true
query = {key = ":key"}
conditions = {Country = ["US"], Role = "admin, editor"}
headers = {X-From = "Netlify"}

[[headers]]
for = "/*"
[headers.values]
Cache-Control = """
  max-age=0,
  no-cache"""
Link = ["</a.css>", "</b.js>"]
)");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  ASSERT_EQ(rules->redirects.size(), 1u);
  const RedirectRule& r = rules->redirects[0];
  EXPECT_EQ(r.from, "/api/*");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.force);
  EXPECT_TRUE(IsProxyRule(r));
  ASSERT_EQ(r.query.size(), 1u);
  EXPECT_TRUE(r.query[0].is_placeholder);
  ASSERT_EQ(r.conditions.size(), 2u);
  EXPECT_EQ(r.conditions[0].values, (std::vector<std::string>{"us"}));
  EXPECT_EQ(r.conditions[1].values, (std::vector<std::string>{"admin", "editor"}));
  EXPECT_EQ(r.proxy_headers, (HeaderList{{"X-From", "Netlify"}}));
  EXPECT_EQ(r.source, "netlify.toml:5");
  ASSERT_EQ(rules->headers.size(), 1u);
  EXPECT_EQ(rules->headers[0].values,
            (HeaderList{{"Cache-Control", "max-age=0, no-cache"}, {"Link", "</a.css>, </b.js>"}}));
}

TEST(NetlifyToml, ChecksRoleLast) {
  auto rules = ParseNetlifyToml(
      "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nconditions = {Role = [\"x\"], Country = "
      "[\"us\"], Language = [\"en\"]}\n");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  ASSERT_EQ(rules->redirects[0].conditions.size(), 3u);
  EXPECT_EQ(rules->redirects[0].conditions[2].kind, RedirectCondition::Kind::kRole);
}

TEST(NetlifyToml, SyntaxErrorsFailTheFile) {
  auto syntax = ParseNetlifyToml("[build]\ncommand = \"x\"\n[[redirects]]\nfrom = \n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().code, ErrorCode::kUnprocessable);
  EXPECT_TRUE(syntax.error().message.starts_with("netlify.toml:4: ")) << syntax.error().message;
}

TEST(NetlifyToml, SkipsBadTablesAtTheLineOfTheBadValue) {
  std::vector<SkippedRule> skipped;
  auto rules = ParseNetlifyToml(
      "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nstatus = \"x\"\n\n"
      "[[redirects]]\nto = \"/b\"\n\n"
      "[[redirects]]\nfrom = \"/ok\"\nto = \"/fine\"\n\n"
      "[[headers]]\nfor = \"/h\"\n[headers.values]\nX-A = 1\n\n"
      "[[headers]]\nfor = \"/g\"\n[headers.values]\nX-B = \"2\"\n",
      "netlify.toml", &skipped);
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  ASSERT_EQ(rules->redirects.size(), 1u);
  EXPECT_EQ(rules->redirects[0].from, "/ok");
  EXPECT_EQ(rules->redirects[0].source, "netlify.toml:9");
  ASSERT_EQ(rules->headers.size(), 1u);
  EXPECT_EQ(rules->headers[0].path, "/g");
  std::vector<std::string> described;
  for (const auto& s : skipped) described.push_back(Describe(s));
  ASSERT_EQ(described.size(), 3u);
  EXPECT_TRUE(described[0].starts_with("netlify.toml:4: [[redirects]] #1: ")) << described[0];
  EXPECT_EQ(described[1], "netlify.toml:6: [[redirects]] #2: missing \"from\"");
  EXPECT_EQ(described[2],
            "netlify.toml:16: [[headers]] #1: header values must be strings or "
            "arrays of strings");
}

TEST(NetlifyToml, RedirectsThatAreNotAnArrayAreSkipped) {
  std::vector<SkippedRule> skipped;
  auto rules = ParseNetlifyToml("redirects = \"/a /b\"\n", "netlify.toml", &skipped);
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  EXPECT_TRUE(rules->redirects.empty());
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(Describe(skipped[0]),
            "netlify.toml:1: \"redirects\" must be an array of tables ([[redirects]])");
}

TEST(NetlifyToml, IgnoresOtherTablesAndUnknownKeys) {
  auto rules = ParseNetlifyToml(
      "[build]\npublish = \"dist\"\n[functions]\nnode_bundler = \"esbuild\"\n"
      "[[plugins]]\npackage = \"x\"\n[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nfuture = 1\n");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  EXPECT_EQ(rules->redirects.size(), 1u);
  EXPECT_TRUE(rules->headers.empty());
}

// ---------------------------------------------------------------------------------------------
// Redirect matcher

TEST(RedirectMatcher, MatchesExactPathsWithOrWithoutTrailingSlash) {
  auto m = Compile("/a /one\n/b/ /two\n/ /root\n");
  EXPECT_EQ(Decide(m, "/a"), "rule 0 -> /one");
  EXPECT_EQ(Decide(m, "/a/"), "rule 0 -> /one");
  EXPECT_EQ(Decide(m, "/b"), "rule 1 -> /two");
  EXPECT_EQ(Decide(m, "/b/"), "rule 1 -> /two");
  EXPECT_EQ(Decide(m, "/"), "rule 2 -> /root");
  EXPECT_EQ(Decide(m, "/a/x"), "none");
}

TEST(RedirectMatcher, PathsAreCaseSensitive) {
  auto m = Compile("/About /about-us\n");
  EXPECT_EQ(Decide(m, "/About"), "rule 0 -> /about-us");
  EXPECT_EQ(Decide(m, "/about"), "none");
}

TEST(RedirectMatcher, SplatMatchesPrefixItselfAndEverythingBelow) {
  auto m = Compile("/news/* /blog/:splat\n");
  EXPECT_EQ(Decide(m, "/news"), "rule 0 -> /blog/");
  EXPECT_EQ(Decide(m, "/news/"), "rule 0 -> /blog/");
  EXPECT_EQ(Decide(m, "/news/2024/post"), "rule 0 -> /blog/2024/post");
  EXPECT_EQ(Decide(m, "/news/2024/post/"), "rule 0 -> /blog/2024/post/");  // as the engine
  EXPECT_EQ(Decide(m, "/newsletter"), "none");
}

TEST(RedirectMatcher, SuffixSplatMatchesWithinASegment) {
  auto m = Compile("/blog* /b/:splat\n");
  EXPECT_EQ(Decide(m, "/blog"), "rule 0 -> /b/");
  EXPECT_EQ(Decide(m, "/blogs/x"), "rule 0 -> /b/s/x");
  EXPECT_EQ(Decide(m, "/blog/x"), "rule 0 -> /b/x");
  EXPECT_EQ(Decide(m, "/blo"), "none");
}

TEST(RedirectMatcher, RootSplatMatchesEverything) {
  auto m = Compile("/* /index.html 200\n");
  EXPECT_EQ(Decide(m, "/"), "rule 0 -> /index.html");
  EXPECT_EQ(Decide(m, "/a/b/c"), "rule 0 -> /index.html");
}

TEST(RedirectMatcher, PlaceholdersTakeOneSegment) {
  auto m = Compile("/news/:year/:month/:date /blog/:year-:month-:date.html\n");
  EXPECT_EQ(Decide(m, "/news/2024/02/28"), "rule 0 -> /blog/2024-02-28.html");
  EXPECT_EQ(Decide(m, "/news/2024/02/28/"), "rule 0 -> /blog/2024-02-28.html");
  EXPECT_EQ(Decide(m, "/news/2024/02"), "none");
  EXPECT_EQ(Decide(m, "/news/2024/02/28/x"), "none");
}

TEST(RedirectMatcher, LongestPlaceholderNameWins) {
  // The engine would read ":idx" as ":id" + "x"; see rules_match.cpp.
  auto m = Compile("/p/:id/:idx /q/:idx/:id\n");
  EXPECT_EQ(Decide(m, "/p/1/2"), "rule 0 -> /q/2/1");
}

TEST(RedirectMatcher, UnknownPlaceholdersStayAsWritten) {
  auto m = Compile("/a /b/:splat/:nope\n");
  EXPECT_EQ(Decide(m, "/a"), "rule 0 -> /b/:splat/:nope");
}

TEST(RedirectMatcher, PathValuesArePercentEncodedInTheTarget) {
  auto m = Compile("/p/:name/* https://other.test/:name/:splat 301\n");
  EXPECT_EQ(Decide(m, "/p/a b/caf\xC3\xA9/x?y"),
            "rule 0 -> https://other.test/a%20b/caf%C3%A9/x%3Fy");
}

TEST(RedirectMatcher, RulePathsAreDecodedLikeRequests) {
  auto m = Compile("/caf%C3%A9 /cafe\n/a%20b /ab\n");
  EXPECT_EQ(Decide(m, "/caf\xC3\xA9"), "rule 0 -> /cafe");
  EXPECT_EQ(Decide(m, "/a b"), "rule 1 -> /ab");
}

TEST(RedirectMatcher, FirstMatchWinsAcrossExactAndWildcardRules) {
  auto m = Compile(
      "/blog/* /first/:splat\n"
      "/blog/post /second\n"
      "/:section/post /third\n"
      "/other /fourth\n");
  EXPECT_EQ(Decide(m, "/blog/post"), "rule 0 -> /first/post");
  EXPECT_EQ(Decide(m, "/news/post"), "rule 2 -> /third");
  EXPECT_EQ(Decide(m, "/other"), "rule 3 -> /fourth");
}

TEST(RedirectMatcher, OrderHoldsAcrossManyIndexedRules) {
  // Rules spread over the exact table and several prefix buckets; a brute-force scan in file
  // order is the reference.
  std::string text;
  for (int i = 0; i < 300; ++i) {
    switch (i % 5) {
      case 0:
        text += "/s" + std::to_string(i % 7) + "/x /e" + std::to_string(i) + "\n";
        break;
      case 1:
        text += "/s" + std::to_string(i % 7) + "/* /w" + std::to_string(i) + "\n";
        break;
      case 2:
        text += "/:p/x /p" + std::to_string(i) + "\n";
        break;
      case 3:
        text += "/s" + std::to_string(i % 3) + "/:q /q" + std::to_string(i) + "\n";
        break;
      default:
        text += "/s" + std::to_string(i % 4) + "* /f" + std::to_string(i) + "\n";
        break;
    }
  }
  auto m = Compile(text);
  const char* paths[] = {"/s1/x", "/s2/x", "/s6/x", "/s5/y", "/s0", "/s3z", "/t/x", "/s9/x/y"};
  for (const char* path : paths) {
    // The reference: compile each rule alone and take the first that matches.
    std::string expected = "none";
    for (std::size_t i = 0; i < m.rules().size() && expected == "none"; ++i) {
      auto single = RedirectMatcher::Compile({m.rules()[i]});
      ASSERT_TRUE(single.ok());
      const RedirectMatch r = Match(*single, path);
      if (r.kind == RedirectMatch::Kind::kRule) {
        expected = "rule " + std::to_string(i) + " -> " + r.target;
      }
    }
    EXPECT_EQ(Decide(m, path), expected) << path;
  }
}

// MayMatch lets the edge skip the rest of the request: it may say yes for a path no rule matches
// (the filter's false positives, conditions), never no for one that a rule does match.
TEST(RedirectMatcher, MayMatchNeverSaysNoToAPathARuleMatches) {
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    switch (i % 4) {
      case 0:
        text += "/old/path-" + std::to_string(i) + " /new 301\n";
        break;
      case 1:
        text += "/blog-" + std::to_string(i) + "/* /posts/:splat 301\n";
        break;
      case 2:
        text += "/news-" + std::to_string(i) + "/:year/:slug /a/:year 302\n";
        break;
      default:
        text += "/docs-" + std::to_string(i) + "/v1/* /v2/:splat 200\n";
        break;
    }
  }
  auto m = Compile(text);
  const std::vector<std::string> matched = {"/old/path-0", "/old/path-1996/",   "/blog-1/x/y",
                                            "/blog-1997",  "/news-2/2024/post", "/docs-3/v1/a"};
  for (const std::string& path : matched) {
    EXPECT_TRUE(m.MayMatch(path)) << path;
    EXPECT_NE(Decide(m, path), "none") << path;
  }
  // Paths of no rule: the filter turns (almost) all of them away, and whatever it lets through
  // the match still refuses.
  int refused = 0;
  for (int i = 0; i < 500; ++i) {
    const std::string path = "/page-" + std::to_string(i) + "/";
    if (!m.MayMatch(path)) ++refused;
    EXPECT_EQ(Decide(m, path), "none") << path;
  }
  EXPECT_GT(refused, 400);
  EXPECT_FALSE(m.MayMatch("/"));
  // A rule with no literal prefix ("/:lang/...") is a candidate for every path.
  auto any = Compile("/:lang/docs /docs?lang=:lang 302\n");
  EXPECT_TRUE(any.MayMatch("/"));
  EXPECT_TRUE(any.MayMatch("/page-1/"));
  // No rules: nothing can match.
  EXPECT_FALSE(Compile("").MayMatch("/"));
}

TEST(RedirectMatcher, NonForcedRuleYieldsToStaticFile) {
  auto m = Compile("/about /about-us 301\n");
  Req r;
  r.path = "/about";
  r.has_file = true;
  EXPECT_EQ(Decide(m, r), "shadowed 0");
  r.has_file = false;
  EXPECT_EQ(Decide(m, r), "rule 0 -> /about-us");
}

TEST(RedirectMatcher, ForcedRuleShadowsStaticFile) {
  auto m = Compile("/about /about-us 301!\n");
  Req r;
  r.path = "/about";
  r.has_file = true;
  EXPECT_EQ(Decide(m, r), "rule 0 -> /about-us");
}

TEST(RedirectMatcher, ShadowedFirstMatchStopsTheSearch) {
  // As in Netlify's CLI: only the first matching rule is weighed against the file; a later
  // forced rule does not get a turn.
  auto m = Compile("/a /first 302\n/* /second 200!\n");
  Req r;
  r.path = "/a";
  r.has_file = true;
  EXPECT_EQ(Decide(m, r), "shadowed 0");
  r.path = "/b";
  EXPECT_EQ(Decide(m, r), "rule 1 -> /second");
}

TEST(RedirectMatcher, StaticFileIsOnlyAskedAboutWhenItMatters) {
  auto m = Compile("/a /b 301!\n");
  int calls = 0;
  RedirectRequest request;
  request.path = "/a";
  auto result = m.Match(request, [&](std::string_view) {
    ++calls;
    return true;
  });
  EXPECT_EQ(result.kind, RedirectMatch::Kind::kRule);
  EXPECT_EQ(calls, 0);
}

TEST(RedirectMatcher, QueryConditionsAndPlaceholders) {
  auto m = Compile("/store id=:id /blog/:id 301\n/store /shop 301\n");
  Req r;
  r.path = "/store";
  r.query = "ref=x&id=my%20post";
  EXPECT_EQ(Decide(m, r), "rule 0 -> /blog/my+post");  // form-encoded, as the engine does
  r.query = "ref=x";
  EXPECT_EQ(Decide(m, r), "rule 1 -> /shop");
  r.query = "id=1&id=2";
  EXPECT_EQ(Decide(m, r), "rule 0 -> /blog/2");  // the last one, as the engine
  r.query = "id=1&";
  EXPECT_EQ(Decide(m, r), "rule 1 -> /shop");  // the engine's expression needs more after '&'
}

TEST(RedirectMatcher, LiteralQueryValuesCompareDecoded) {
  auto m = Compile("/q v=a+b /hit\n");
  Req r;
  r.path = "/q";
  r.query = "v=a%2Bb";
  EXPECT_EQ(Decide(m, r), "rule 0 -> /hit");
  r.query = "v=a+b";  // decodes to "a b"
  EXPECT_EQ(Decide(m, r), "none");
}

TEST(RedirectMatcher, DestinationCarriesTheQueryStringUnlessTheTargetHasOne) {
  auto m = Compile("/a /b 301\n/c /d?x=1 301\n/e /f#top 301\n");
  Req r;
  r.path = "/a";
  r.query = "utm=1&b=2";
  EXPECT_EQ(Match(m, r).destination, "/b?utm=1&b=2");
  r.path = "/c";
  EXPECT_EQ(Match(m, r).destination, "/d?x=1");
  r.path = "/e";
  EXPECT_EQ(Match(m, r).destination, "/f?utm=1&b=2#top");
  r.query = "";
  EXPECT_EQ(Match(m, r).destination, "/f#top");
}

TEST(RedirectMatcher, CountryAndLanguageConditions) {
  auto m = Compile("/ /anz 302 Country=au,nz\n/ /de 302 Language=de\n/ /home 302\n");
  Req r;
  r.country = "AU";
  EXPECT_EQ(Decide(m, r), "rule 0 -> /anz");
  r.country = "us";
  r.language = "de-AT,en;q=0.5";
  EXPECT_EQ(Decide(m, r), "rule 1 -> /de");
  r.language = "fr, de";
  EXPECT_EQ(Decide(m, r), "rule 2 -> /home");
}

TEST(RedirectMatcher, CookieCondition) {
  auto m = Compile("/* /beta/:splat 200 Cookie=beta,ab\n");
  Req r;
  r.path = "/x";
  EXPECT_EQ(Decide(m, r), "none");
  r.cookie = "other=1; ab=";
  EXPECT_EQ(Decide(m, r), "none");
  r.cookie = "other=1; ab=on";
  EXPECT_EQ(Decide(m, r), "rule 0 -> /beta/x");
}

TEST(RedirectMatcher, RoleRuleRefusesVisitorsWithoutTheRole) {
  auto m = Compile("/admin/* /admin/:splat 200! Role=admin,editor\n");
  Req r;
  r.path = "/admin/x";
  EXPECT_EQ(Decide(m, r), "denied");
  EXPECT_EQ(Match(m, r).status, 404);
  r.roles = {"user", "editor"};
  EXPECT_EQ(Decide(m, r), "rule 0 -> /admin/x");
}

TEST(RedirectMatcher, RefusedRoleFallsThroughToLaterRules) {
  auto m = Compile("/admin/* /admin/:splat 200! Role=admin\n/admin/* /login 302\n");
  Req r;
  r.path = "/admin/x";
  EXPECT_EQ(Decide(m, r), "rule 1 -> /login");
}

TEST(RedirectMatcher, RefusedRoleNeverServesTheProtectedFile) {
  auto m = Compile("/admin/* /admin/:splat 200! Role=admin\n/* /index.html 200\n");
  Req r;
  r.path = "/admin/secret.html";
  r.has_file = true;
  EXPECT_EQ(Decide(m, r), "denied");
  r.roles = {"admin"};
  EXPECT_EQ(Decide(m, r), "rule 0 -> /admin/secret.html");
}

TEST(RedirectMatcher, FirstFailingConditionDecidesBetweenRefusalAndNoMatch) {
  auto m = Compile("/c /d 301 Country=us Role=admin\n/e /f 301 Role=admin Country=us\n");
  Req r;
  r.country = "fr";
  r.path = "/c";
  EXPECT_EQ(Decide(m, r), "none");
  r.path = "/e";
  EXPECT_EQ(Decide(m, r), "denied");
}

TEST(RedirectMatcher, HostRulesMatchOnlyTheirSchemeAndHost) {
  auto m = Compile("https://old.example.com/* https://new.example.com/:splat 301!\n/x /y\n");
  Req r;
  r.path = "/a";
  r.host = "old.example.com";
  EXPECT_EQ(Decide(m, r), "rule 0 -> https://new.example.com/a");
  r.host = "OLD.Example.com";
  EXPECT_EQ(Decide(m, r), "rule 0 -> https://new.example.com/a");
  r.scheme = "http";
  EXPECT_EQ(Decide(m, r), "none");
  r.scheme = "https";
  r.host = "www.example.com";
  EXPECT_EQ(Decide(m, r), "none");
}

TEST(RedirectMatcher, TargetNeverBecomesProtocolRelative) {
  auto m = Compile("/go/* /:splat 302\n");
  // Normalised request paths have no "//", so the splat cannot start with '/'.
  EXPECT_EQ(Decide(m, "/go/evil.test"), "rule 0 -> /evil.test");
}

TEST(RedirectMatcher, CompileRefusesTooManyRules) {
  std::vector<RedirectRule> rules(kMaxRules + 1, ParseRedirects("/a /b\n")[0]);
  EXPECT_FALSE(RedirectMatcher::Compile(std::move(rules)).ok());
}

TEST(PrimaryLanguage, TakesFirstEntrysPrimarySubtag) {
  EXPECT_EQ(PrimaryLanguage("de-AT,de;q=0.9,en;q=0.8"), "de");
  EXPECT_EQ(PrimaryLanguage(" EN-us ; q=1"), "en");
  EXPECT_EQ(PrimaryLanguage("fr"), "fr");
  EXPECT_EQ(PrimaryLanguage("*"), "");
  EXPECT_EQ(PrimaryLanguage(""), "");
}

// ---------------------------------------------------------------------------------------------
// Header matcher

HeaderMatcher CompileHeaders(std::string_view text) {
  auto rules = ParseHeadersFile(text);
  EXPECT_TRUE(rules.ok()) << rules.error().message;
  auto matcher = HeaderMatcher::Compile(rules.ok() ? *rules : std::vector<HeaderRule>{});
  EXPECT_TRUE(matcher.ok()) << matcher.error().message;
  return std::move(matcher).value();
}

TEST(HeaderMatcher, AllMatchingRulesApplyAndSameNamesJoin) {
  auto m = CompileHeaders(
      "/*\n  X-Frame-Options: DENY\n  Cache-Control: public, max-age=0\n"
      "/assets/*\n  cache-control: max-age=31536000, immutable\n  X-Asset: 1\n");
  EXPECT_EQ(m.HeadersFor("/assets/app.js"),
            (HeaderList{{"X-Frame-Options", "DENY"},
                        {"Cache-Control", "public, max-age=0, max-age=31536000, immutable"},
                        {"X-Asset", "1"}}));
  EXPECT_EQ(m.HeadersFor("/index.html"),
            (HeaderList{{"X-Frame-Options", "DENY"}, {"Cache-Control", "public, max-age=0"}}));
  EXPECT_EQ(m.MatchingRules("/assets/x"), (std::vector<std::size_t>{0, 1}));
}

TEST(HeaderMatcher, WildcardsAndPlaceholders) {
  auto m = CompileHeaders(
      "/a/*\n  X-R: 0\n"
      "/*.js\n  X-R: 1\n"
      "/:lang/about\n  X-R: 2\n"
      "/docs/*/edit\n  X-R: 3\n"
      "/exact.html\n  X-R: 4\n");
  auto rules = [&](std::string_view path) { return m.MatchingRules(path); };
  using V = std::vector<std::size_t>;
  EXPECT_EQ(rules("/a"), V({0}));
  EXPECT_EQ(rules("/a/"), V({0}));
  EXPECT_EQ(rules("/a/b/c"), V({0}));
  EXPECT_EQ(rules("/abc"), V{});  // unlike Netlify's CLI regex
  EXPECT_EQ(rules("/x/y/app.js"), V({1}));
  EXPECT_EQ(rules("/appxjs"), V{});  // '.' is a dot
  EXPECT_EQ(rules("/en/about"), V({2}));
  EXPECT_EQ(rules("/en/fr/about"), V{});
  EXPECT_EQ(rules("/docs/edit"), V({3}));
  EXPECT_EQ(rules("/docs/a/b/edit"), V({3}));
  EXPECT_EQ(rules("/exact.html/"), V({4}));
  EXPECT_EQ(rules("/a/main.js"), V({0, 1}));
}

TEST(HeaderMatcher, PatternsIgnoreCase) {
  auto m = CompileHeaders("/Assets/*\n  X-A: 1\n/README\n  X-B: 2\n");
  EXPECT_EQ(m.MatchingRules("/assets/x.png"), (std::vector<std::size_t>{0}));
  EXPECT_EQ(m.MatchingRules("/readme"), (std::vector<std::size_t>{1}));
}

TEST(HeaderMatcher, LeavesOutHeadersTheServerOwns) {
  auto m = CompileHeaders("/*\n  Content-Length: 5\n  location: /x\n  X-Ok: yes\n");
  EXPECT_EQ(m.HeadersFor("/"), (HeaderList{{"X-Ok", "yes"}}));
}

TEST(HeaderMatcher, ManyStarsStayLinear) {
  // A pattern that makes a backtracking matcher explode.
  std::string pattern = "/";
  for (int i = 0; i < 40; ++i) pattern += "a*";
  auto m = CompileHeaders(pattern + "b\n  X-A: 1\n");
  const std::string path = "/" + std::string(4000, 'a');
  EXPECT_TRUE(m.MatchingRules(path).empty());
  EXPECT_EQ(m.MatchingRules(path + "b"), (std::vector<std::size_t>{0}));
}

// ---------------------------------------------------------------------------------------------
// Golden files: src/edge/testdata/

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::string DumpSkipped(const std::vector<SkippedRule>& skipped) {
  std::string out;
  for (const SkippedRule& s : skipped) {
    out += "skipped " + Describe(s) + (s.text.empty() ? "" : " [" + s.text + "]") + "\n";
  }
  return out;
}

std::string DumpRedirects(const Result<std::vector<RedirectRule>>& result) {
  if (!result.ok()) return "error: " + result.error().message + "\n";
  std::ostringstream out;
  for (const RedirectRule& r : *result) {
    out << r.source << ": ";
    if (!r.host.empty()) out << r.scheme << "://" << r.host;
    out << r.from;
    for (const auto& q : r.query)
      out << " " << q.key << "=" << (q.is_placeholder ? ":" : "") << q.value;
    out << " -> " << r.to << " " << r.status << (r.force ? "!" : "");
    for (const auto& c : r.conditions) {
      static const char* kNames[] = {"Country", "Language", "Role", "Cookie"};
      out << " " << kNames[static_cast<int>(c.kind)] << "=" << Join(c.values);
    }
    for (const auto& [name, value] : r.proxy_headers) out << " [" << name << ": " << value << "]";
    if (!r.signed_env.empty()) out << " signed=" << r.signed_env;
    if (IsProxyRule(r)) out << " (proxy)";
    out << "\n";
  }
  return out.str();
}

std::string DumpHeaders(const std::vector<HeaderRule>& rules) {
  std::ostringstream out;
  for (const HeaderRule& r : rules) {
    out << r.source << ": " << r.path << "\n";
    for (const auto& [name, value] : r.values) out << "  " << name << ": " << value << "\n";
  }
  return out.str();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void CheckGolden(const std::string& dir, const std::string& extension,
                 const std::function<std::string(const std::string&)>& dump) {
  const fs::path root = fs::path(RD_EDGE_TESTDATA_DIR) / dir;
  const bool update = std::getenv("RD_UPDATE_GOLDEN") != nullptr;
  std::size_t count = 0;
  std::vector<fs::path> inputs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.path().extension() == extension) inputs.push_back(entry.path());
  }
  std::sort(inputs.begin(), inputs.end());
  std::vector<std::string> changed;
  for (const fs::path& input : inputs) {
    ++count;
    const std::string actual = dump(ReadFile(input));
    fs::path golden = input;
    golden.replace_extension(".golden");
    if (update) {
      if (!fs::exists(golden) || ReadFile(golden) != actual) {
        changed.push_back(golden.filename().string());
      }
      std::ofstream(golden, std::ios::binary) << actual;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " is missing; run with RD_UPDATE_GOLDEN=1";
    EXPECT_EQ(actual, ReadFile(golden)) << "for " << input;
    // An invalid_ file fails, or has its bad lines skipped; a valid_ one neither.
    const bool expect_invalid = input.filename().string().starts_with("invalid_");
    const bool invalid =
        actual.starts_with("error: ") || actual.find("skipped ") != std::string::npos;
    EXPECT_EQ(invalid, expect_invalid) << input;
  }
  EXPECT_GT(count, 0u) << "no " << extension << " files in " << root;
  // Rewriting is never a pass, so the mode cannot slip into CI and bless whatever the parser
  // prints today.
  if (update) {
    ADD_FAILURE() << "RD_UPDATE_GOLDEN is set: rewrote the " << count << " .golden files in "
                  << root.string() << " (" << changed.size() << " changed"
                  << (changed.empty() ? "" : ": " + Join(changed)) << ") instead of checking them. "
                  << "Review the diff, then run again without RD_UPDATE_GOLDEN.";
  }
}

TEST(RulesGolden, RedirectsFiles) {
  CheckGolden("redirects", ".txt", [](const std::string& text) {
    std::vector<SkippedRule> skipped;
    auto rules = ParseRedirectsFile(text, "_redirects", &skipped);
    return DumpRedirects(rules) + DumpSkipped(skipped);
  });
}

TEST(RulesGolden, HeadersFiles) {
  CheckGolden("headers", ".txt", [](const std::string& text) {
    std::vector<SkippedRule> skipped;
    auto rules = ParseHeadersFile(text, "_headers", &skipped);
    if (!rules.ok()) return "error: " + rules.error().message + "\n";
    return DumpHeaders(*rules) + DumpSkipped(skipped);
  });
}

TEST(RulesGolden, NetlifyTomlFiles) {
  CheckGolden("toml", ".toml", [](const std::string& text) {
    std::vector<SkippedRule> skipped;
    auto rules = ParseNetlifyToml(text, "netlify.toml", &skipped);
    if (!rules.ok()) return "error: " + rules.error().message + "\n";
    return "[[redirects]]\n" + DumpRedirects(rules->redirects) + "[[headers]]\n" +
           DumpHeaders(rules->headers) + DumpSkipped(skipped);
  });
}

}  // namespace
}  // namespace replideploy::edge

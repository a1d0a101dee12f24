#include "edge/paths.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace replideploy::edge {
namespace {

std::string Normalized(std::string_view raw) {
  auto result = NormalizeRequestPath(raw);
  EXPECT_TRUE(result.ok()) << raw << ": " << result.error().message;
  return result.ok() ? *result : std::string();
}

void ExpectRejected(std::string_view raw) {
  auto result = NormalizeRequestPath(raw);
  ASSERT_FALSE(result.ok()) << raw << " was accepted as " << *result;
  EXPECT_EQ(result.error().code, ErrorCode::kBadRequest) << raw;
}

TEST(RequestPath, PlainPathsAreUnchanged) {
  EXPECT_EQ(Normalized("/"), "/");
  EXPECT_EQ(Normalized("/index.html"), "/index.html");
  EXPECT_EQ(Normalized("/blog/2024/post"), "/blog/2024/post");
  EXPECT_EQ(Normalized("/a+b/c~d/e.f"), "/a+b/c~d/e.f");  // '+' is not a space in a path
}

// Paths near the already-normal shortcut's edge: names with dots are kept as they are, dot
// segments and empty segments are still worked out, wherever they stand.
TEST(RequestPath, DotsInNamesStayAndDotSegmentsGoAnywhere) {
  EXPECT_EQ(Normalized("/.well-known/a..b/c."), "/.well-known/a..b/c.");
  EXPECT_EQ(Normalized("/..."), "/...");
  EXPECT_EQ(Normalized("/a/."), "/a/");
  EXPECT_EQ(Normalized("/a/.."), "/");
  EXPECT_EQ(Normalized("/."), "/");
  EXPECT_EQ(Normalized("/./a"), "/a");
  EXPECT_EQ(Normalized("/a/../b/"), "/b/");
  EXPECT_EQ(Normalized("//"), "/");
  EXPECT_EQ(Normalized("/a//"), "/a/");
  EXPECT_EQ(Normalized("//a"), "/a");
  ExpectRejected("/..");
  ExpectRejected("/a\\b");
  ExpectRejected("/a\x01b");
}

TEST(RequestPath, KeepsTrailingSlash) {
  EXPECT_EQ(Normalized("/docs/"), "/docs/");
  EXPECT_EQ(Normalized("/docs"), "/docs");
}

TEST(RequestPath, DecodesOnce) {
  EXPECT_EQ(Normalized("/caf%C3%A9"), "/caf\xC3\xA9");
  EXPECT_EQ(Normalized("/caf%c3%a9"), "/caf\xC3\xA9");
  EXPECT_EQ(Normalized("/a%20b"), "/a b");
  EXPECT_EQ(Normalized("/100%25"), "/100%");
  EXPECT_EQ(Normalized("/a%3Fb%23c"), "/a?b#c");
  // "%25" decodes to '%' once: the result names a file called "%2e%2e", not a parent.
  EXPECT_EQ(Normalized("/%252e%252e/x"), "/%2e%2e/x");
}

TEST(RequestPath, AcceptsRawUtf8) { EXPECT_EQ(Normalized("/caf\xC3\xA9"), "/caf\xC3\xA9"); }

TEST(RequestPath, CollapsesRepeatedSlashes) {
  EXPECT_EQ(Normalized("//"), "/");
  EXPECT_EQ(Normalized("/a//b///c"), "/a/b/c");
  EXPECT_EQ(Normalized("//etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Normalized("/a//"), "/a/");
}

TEST(RequestPath, DropsDotSegments) {
  EXPECT_EQ(Normalized("/./a/./b"), "/a/b");
  EXPECT_EQ(Normalized("/a/."), "/a/");
  EXPECT_EQ(Normalized("/."), "/");
}

TEST(RequestPath, ResolvesDotDotInsideTheRoot) {
  EXPECT_EQ(Normalized("/a/b/../c"), "/a/c");
  EXPECT_EQ(Normalized("/a/b/.."), "/a/");
  EXPECT_EQ(Normalized("/a/.."), "/");
  EXPECT_EQ(Normalized("/a/b/../../c"), "/c");
}

TEST(RequestPath, RejectsDotDotAboveTheRoot) {
  ExpectRejected("/..");
  ExpectRejected("/../etc/passwd");
  ExpectRejected("/a/../../etc/passwd");
  ExpectRejected("/a/./../..");
}

TEST(RequestPath, RejectsEncodedDotSegments) {
  ExpectRejected("/%2e%2e/etc/passwd");
  ExpectRejected("/a/%2E%2E/b");
  ExpectRejected("/%2E./x");
  ExpectRejected("/.%2e/x");
  ExpectRejected("/a/%2e/b");
}

TEST(RequestPath, NamesWithDotsAreNotDotSegments) {
  EXPECT_EQ(Normalized("/.well-known/acme"), "/.well-known/acme");
  EXPECT_EQ(Normalized("/.../x"), "/.../x");
  EXPECT_EQ(Normalized("/..a/b.."), "/..a/b..");
  EXPECT_EQ(Normalized("/%2e%2e%2e"), "/...");
}

TEST(RequestPath, RejectsOverlongAndInvalidUtf8) {
  ExpectRejected("/%c0%ae%c0%ae/etc/passwd");  // overlong '.'
  ExpectRejected("/%c0%af");                   // overlong '/'
  ExpectRejected("/%e0%80%ae");                // 3-byte overlong '.'
  ExpectRejected("/%f0%80%80%ae");             // 4-byte overlong
  ExpectRejected("/%ed%a0%80");                // UTF-16 surrogate
  ExpectRejected("/%f4%90%80%80");             // above U+10FFFF
  ExpectRejected("/%ff");
  ExpectRejected("/%c3");  // truncated sequence
  ExpectRejected("/caf\xC3");
}

TEST(RequestPath, RejectsEncodedSlashAndBackslashes) {
  ExpectRejected("/a%2fb");
  ExpectRejected("/a%2Fb");
  ExpectRejected("/..%2f..%2fetc");
  ExpectRejected("/a\\b");
  ExpectRejected("/..\\..\\windows");
  ExpectRejected("/a%5cb");
  ExpectRejected("/a%5C..%5Cb");
}

TEST(RequestPath, RejectsNulAndControlCharacters) {
  ExpectRejected("/a%00.html");
  ExpectRejected(std::string_view("/a\0b", 4));
  ExpectRejected("/a%0d%0aSet-Cookie:x");
  ExpectRejected("/a\tb");
  ExpectRejected("/a%7f");
}

TEST(RequestPath, RejectsMalformedEscapes) {
  ExpectRejected("/a%zz");
  ExpectRejected("/a%4");
  ExpectRejected("/a%");
  ExpectRejected("/a%%41");
}

TEST(RequestPath, RejectsWhatIsNotAnOriginFormPath) {
  ExpectRejected("");
  ExpectRejected("index.html");
  ExpectRejected("*");
  ExpectRejected("http://example.com/");
  ExpectRejected(std::string(kMaxRequestPathBytes + 1, '/'));
  EXPECT_TRUE(NormalizeRequestPath("/" + std::string(kMaxRequestPathBytes - 1, 'a')).ok());
}

TEST(RequestPath, ResultNeverLeavesTheRoot) {
  // Whatever comes in, what comes out is a clean absolute path.
  const char* inputs[] = {"/a/b/../../../x",    "/./../x",     "/%2e%2e",
                          "/a/%2e%2e%2f",       "//../x",      "/a/b/c/../../..",
                          "/a/b/c/../../../..", "/.//.//..//x"};
  for (const char* input : inputs) {
    auto result = NormalizeRequestPath(input);
    if (!result.ok()) continue;
    EXPECT_EQ(result->front(), '/') << input;
    EXPECT_EQ(result->find("/../"), std::string::npos) << input;
    EXPECT_EQ(result->find("//"), std::string::npos) << input;
    EXPECT_FALSE(result->ends_with("/..")) << input;
  }
}

TEST(RequestPath, RandomInputKeepsTheInvariants) {
  std::uint32_t state = 99;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  const std::string alphabet = "/./%2eE5cCfF0aA\\x\xC3\xA9\x80";
  for (int round = 0; round < 20000; ++round) {
    std::string raw = "/";
    const int len = static_cast<int>(next() % 24);
    for (int i = 0; i < len; ++i) raw.push_back(alphabet[next() % alphabet.size()]);
    auto result = NormalizeRequestPath(raw);
    if (!result.ok()) continue;
    const std::string& p = *result;
    ASSERT_EQ(p.front(), '/') << raw;
    EXPECT_EQ(p.find("//"), std::string::npos) << raw;
    EXPECT_EQ(p.find('\\'), std::string::npos) << raw;
    EXPECT_TRUE(IsValidUtf8(p)) << raw;
    for (std::size_t start = 1; start < p.size();) {
      std::size_t end = p.find('/', start);
      if (end == std::string::npos) end = p.size();
      const std::string_view seg = std::string_view(p).substr(start, end - start);
      EXPECT_TRUE(seg != "." && seg != "..") << raw << " -> " << p;
      start = end + 1;
    }
  }
}

TEST(Utf8, ValidatesSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));                      // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
}

}  // namespace
}  // namespace replideploy::edge

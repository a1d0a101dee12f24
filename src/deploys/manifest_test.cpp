#include "deploys/manifest.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/crypto.hpp"

namespace replideploy::deploys {
namespace {

std::string HexOf(std::string_view data) { return core::HexEncode(core::Sha256(data)); }

TEST(ManifestFiles, FindsEveryPathAndNothingElse) {
  ManifestFiles files;
  std::map<std::string, std::string> expected;  // path -> sha256 hex
  for (int i = 0; i < 1000; ++i) {
    const std::string path = "/dir-" + std::to_string(i % 7) + "/page-" + std::to_string(i) +
                             (i % 2 == 0 ? "/index.html" : ".css");
    expected[path] = HexOf(path);
    ASSERT_TRUE(files.Insert(path, expected[path], i, i % 2 == 0 ? "text/html" : "text/css"));
  }
  files.ShrinkToFit();
  ASSERT_EQ(files.size(), expected.size());
  for (const auto& [path, hex] : expected) {
    const ManifestEntry* entry = files.Find(path);
    ASSERT_NE(entry, nullptr) << path;
    EXPECT_EQ(files.Path(*entry), path);
    EXPECT_EQ(entry->sha256().view(), hex);
  }
  for (const char* missing :
       {"", "/", "/dir-0", "/dir-0/page-0", "/dir-0/page-0/index.htm", "/dir-0/page-0/index.html/",
        "/DIR-0/page-0/index.html", "/dir-1/page-0/index.html", "/dir-0/page-1000/index.html"}) {
    EXPECT_EQ(files.Find(missing), nullptr) << missing;
  }
  EXPECT_EQ(ManifestFiles().Find("/index.html"), nullptr);  // empty: no index at all
}

TEST(ManifestFiles, PathsAreBytesAsStoredUnicodeAndPercentForms) {
  ManifestFiles files;
  const std::string sha(64, 'a');
  ASSERT_TRUE(files.Insert("/caf\xC3\xA9/index.html", sha, 1, "text/html"));
  ASSERT_TRUE(files.Insert("/\xE6\x97\xA5\xE6\x9C\xAC.html", sha, 2, "text/html"));
  ASSERT_TRUE(files.Insert("/a%20b.html", sha, 3, "text/html"));
  ASSERT_TRUE(files.Insert("/a b.html", sha, 4, "text/html"));
  EXPECT_EQ(files.Find("/caf\xC3\xA9/index.html")->size, 1);
  EXPECT_EQ(files.Find("/\xE6\x97\xA5\xE6\x9C\xAC.html")->size, 2);
  EXPECT_EQ(files.Find("/a%20b.html")->size, 3);
  EXPECT_EQ(files.Find("/a b.html")->size, 4);
  // No decoding here, as with the map before: the edge decodes the request path first.
  EXPECT_EQ(files.Find("/caf%C3%A9/index.html"), nullptr);
  EXPECT_EQ(files.Find("/cafe\xCC\x81/index.html"), nullptr);  // NFD form: other bytes
}

TEST(ManifestFiles, KeepsContentTypesFlagsAndSizes) {
  ManifestFiles files;
  ASSERT_TRUE(files.Insert("/a.html", HexOf("a"), 10, "text/html; charset=utf-8", true, false));
  ASSERT_TRUE(files.Insert("/b.js", HexOf("b"), 1LL << 40, "text/javascript", false, true));
  ASSERT_TRUE(files.Insert("/c", HexOf("c"), 0, ""));
  ASSERT_TRUE(files.Insert("/d.html", HexOf("d"), 5, std::string("text/html; charset=utf-8")));
  const ManifestEntry* a = files.Find("/a.html");
  const ManifestEntry* b = files.Find("/b.js");
  const ManifestEntry* c = files.Find("/c");
  const ManifestEntry* d = files.Find("/d.html");
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(a->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(a->has_br);
  EXPECT_FALSE(a->has_gzip);
  EXPECT_EQ(b->content_type, "text/javascript");
  EXPECT_FALSE(b->has_br);
  EXPECT_TRUE(b->has_gzip);
  EXPECT_EQ(b->size, 1LL << 40);
  EXPECT_TRUE(c->content_type.empty());
  // Interned: one copy of each content type for the process.
  EXPECT_EQ(a->content_type.data(), d->content_type.data());
}

TEST(ManifestFiles, RefusesDuplicatesAndBadDigests) {
  ManifestFiles files;
  ASSERT_TRUE(files.Insert("/x", HexOf("1"), 1, "text/plain"));
  EXPECT_FALSE(files.Insert("/x", HexOf("2"), 2, "text/plain"));  // the first stays
  EXPECT_EQ(files.Find("/x")->size, 1);
  EXPECT_FALSE(files.Insert("/y", std::string(40, 'a'), 1, ""));  // a SHA-1's length
  EXPECT_FALSE(files.Insert("/y", std::string(63, 'a') + "g", 1, ""));
  EXPECT_EQ(files.Find("/y"), nullptr);
  EXPECT_EQ(files.size(), 1U);
}

TEST(Sha256Digest, RoundTripsHex) {
  const std::string hex = HexOf("round trip");
  Sha256Digest digest;
  ASSERT_TRUE(digest.ParseHex(hex));
  EXPECT_EQ(digest.Hex().str(), hex);
  EXPECT_EQ(core::HexEncode(std::string_view(reinterpret_cast<const char*>(digest.bytes.data()),
                                             digest.bytes.size())),
            hex);
  Sha256Digest upper;
  std::string upper_hex = hex;
  for (char& ch : upper_hex) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  ASSERT_TRUE(upper.ParseHex(upper_hex));
  EXPECT_EQ(upper, digest);  // read in either case, written in lower case
  EXPECT_FALSE(digest.ParseHex("zz" + hex.substr(2)));
  EXPECT_EQ(digest.Hex().str(), hex);  // untouched by a failed parse
}

TEST(ManifestFiles, IsSmallerThanAMapOfStrings) {
  ManifestFiles files;
  files.Reserve(100, 100 * 20);
  for (int i = 0; i < 100; ++i) {
    const std::string path = "/p" + std::to_string(i) + ".html";
    ASSERT_TRUE(files.Insert(path, HexOf(path), 2000, "text/html; charset=utf-8"));
  }
  files.ShrinkToFit();
  // 72 bytes an entry, its path, and a 256-slot index: ~9 kB (the map of strings: ~30 kB).
  EXPECT_EQ(sizeof(ManifestEntry), 72U);
  EXPECT_LT(files.MemoryBytes(), 100U * 72 + 100 * 20 + 256 * 4 + 1);
}

}  // namespace
}  // namespace replideploy::deploys

#include "store/precompress.hpp"

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include "store/content_type.hpp"
#include "store/testing.hpp"

namespace replideploy::store {
namespace {

std::string BrotliDecompress(const std::string& data) {
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

std::string GzipDecompress(const std::string& data) {
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

std::string Html(std::size_t approx_bytes) {
  std::string html = "<!doctype html><html><head><title>Docs</title></head><body>\n";
  for (int i = 0; html.size() < approx_bytes; ++i) {
    html += "<p class=\"entry\">Item " + std::to_string(i) + ": the quick brown fox</p>\n";
  }
  return html + "</body></html>\n";
}

class PrecompressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = LocalBlobStore::Open(dir_.path());
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  std::string PutOrDie(const std::string& content) {
    auto put = store_->Put(content);
    EXPECT_TRUE(put.ok());
    return put.ok() ? put->sha256 : std::string();
  }

  ino_t Inode(const std::string& sha256, Variant v) {
    struct stat st {};
    EXPECT_EQ(::stat(store_->LocalPath(sha256, v)->c_str(), &st), 0);
    return st.st_ino;
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(PrecompressTest, RoundTripsBrotliAndGzip) {
  const std::string html = Html(20'000);
  const std::string sha = PutOrDie(html);
  auto made = Precompress(*store_, sha, "text/html; charset=utf-8");
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_TRUE(made->brotli);
  EXPECT_TRUE(made->gzip);

  auto br = store_->Read(sha, Variant::kBrotli);
  auto gz = store_->Read(sha, Variant::kGzip);
  ASSERT_TRUE(br.ok());
  ASSERT_TRUE(gz.ok());
  EXPECT_LT(br->size(), html.size());
  EXPECT_LT(gz->size(), html.size());
  EXPECT_EQ(BrotliDecompress(*br), html);
  EXPECT_EQ(GzipDecompress(*gz), html);
}

TEST_F(PrecompressTest, SkipsImagesTinyFilesAndIncompressibleContent) {
  const std::string html = Html(20'000);
  const std::string sha = PutOrDie(html);
  for (const char* type : {"image/png", "image/jpeg", "font/woff2", "application/zip"}) {
    auto made = Precompress(*store_, sha, type);
    ASSERT_TRUE(made.ok());
    EXPECT_FALSE(made->brotli || made->gzip) << type;
  }
  EXPECT_FALSE(*store_->Has(sha, Variant::kBrotli));
  EXPECT_FALSE(*store_->Has(sha, Variant::kGzip));

  const std::string tiny = PutOrDie(std::string(kMinPrecompressBytes - 1, 'a'));
  auto tiny_made = Precompress(*store_, tiny, "text/plain");
  ASSERT_TRUE(tiny_made.ok());
  EXPECT_FALSE(tiny_made->brotli || tiny_made->gzip);
  EXPECT_FALSE(*store_->Has(tiny, Variant::kGzip));

  // Labelled text, but random: neither compressor gets it smaller, so no variant.
  const std::string noise = PutOrDie(testing::NoiseBytes(8192));
  auto noise_made = Precompress(*store_, noise, "text/plain");
  ASSERT_TRUE(noise_made.ok());
  EXPECT_FALSE(noise_made->brotli || noise_made->gzip);
  EXPECT_FALSE(*store_->Has(noise, Variant::kBrotli));
  EXPECT_FALSE(*store_->Has(noise, Variant::kGzip));
}

TEST_F(PrecompressTest, IsIdempotent) {
  const std::string sha = PutOrDie(Html(5'000));
  ASSERT_TRUE(Precompress(*store_, sha, "text/css").ok());
  const ino_t br_inode = Inode(sha, Variant::kBrotli);
  const ino_t gz_inode = Inode(sha, Variant::kGzip);

  auto again = Precompress(*store_, sha, "text/css");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->brotli && again->gzip);
  EXPECT_EQ(Inode(sha, Variant::kBrotli), br_inode);  // not rewritten
  EXPECT_EQ(Inode(sha, Variant::kGzip), gz_inode);

  // A missing variant is made again; the present one is left alone.
  ASSERT_EQ(::unlink(store_->LocalPath(sha, Variant::kGzip)->c_str()), 0);
  auto refill = Precompress(*store_, sha, "text/css");
  ASSERT_TRUE(refill.ok());
  EXPECT_TRUE(refill->brotli && refill->gzip);
  EXPECT_EQ(Inode(sha, Variant::kBrotli), br_inode);
  EXPECT_TRUE(*store_->Has(sha, Variant::kGzip));
}

TEST_F(PrecompressTest, ReportsStoreErrors) {
  auto missing = Precompress(
      *store_, "0000000000000000000000000000000000000000000000000000000000000000", "text/html");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto bad = Precompress(*store_, "../../etc/passwd", "text/html");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
}

TEST(Precompress, CompressorsAreDeterministicAndRoundTrip) {
  const std::string text = Html(100'000);
  auto gz1 = GzipCompress(text, 9);
  auto gz2 = GzipCompress(text, 9);
  ASSERT_TRUE(gz1.ok() && gz2.ok());
  EXPECT_EQ(*gz1, *gz2);
  EXPECT_EQ(GzipDecompress(*gz1), text);
  auto empty_gz = GzipCompress("", 9);
  ASSERT_TRUE(empty_gz.ok());
  EXPECT_EQ(GzipDecompress(*empty_gz), "");

  auto br = BrotliCompress(text, 5, /*text=*/true);
  ASSERT_TRUE(br.ok());
  EXPECT_EQ(BrotliDecompress(*br), text);
}

TEST(IsCompressible, TextLikeTypesOnly) {
  for (const char* type :
       {"text/html", "text/html; charset=utf-8", "TEXT/CSS", " text/plain ;charset=UTF-8",
        "application/javascript", "text/javascript; charset=utf-8", "application/json",
        "application/manifest+json", "application/ld+json", "image/svg+xml", "application/xml",
        "application/rss+xml", "application/wasm", "font/ttf", "font/otf",
        "application/vnd.ms-fontobject", "image/x-icon"}) {
    EXPECT_TRUE(IsCompressible(type)) << type;
  }
  for (const char* type :
       {"image/png", "image/jpeg", "image/webp", "image/avif", "image/gif", "video/mp4",
        "audio/mpeg", "application/zip", "application/gzip", "font/woff", "font/woff2",
        "application/pdf", "application/octet-stream", "", "text", "textual/html"}) {
    EXPECT_FALSE(IsCompressible(type)) << type;
  }
}

TEST(IsCompressible, AgreesWithContentTypes) {
  for (const char* path :
       {"a.html", "a.css", "a.js", "a.mjs", "a.json", "a.map", "a.txt", "a.xml", "a.svg", "a.wasm",
        "a.webmanifest", "a.md", "a.csv", "a.yaml", "a.toml", "a.ttf", "a.otf", "a.eot", "a.ico"}) {
    EXPECT_TRUE(IsCompressible(ContentTypeForPath(path))) << path;
  }
  for (const char* path : {"a.png", "a.jpg", "a.gif", "a.webp", "a.avif", "a.woff", "a.woff2",
                           "a.pdf", "a.mp4", "a.webm", "a.mp3", "a.zip", "a.gz", "a.bin"}) {
    EXPECT_FALSE(IsCompressible(ContentTypeForPath(path))) << path;
  }
}

}  // namespace
}  // namespace replideploy::store

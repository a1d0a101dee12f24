#include "deploys/file_batch.hpp"

#include <gtest/gtest.h>

#include <string>

namespace replideploy::deploys {
namespace {

std::string DetailOf(const Result<std::vector<BatchFile>>& result) {
  return result.ok() ? "ok" : result.error().detail_code;
}

TEST(FileBatch, AppendedRecordsParseBack) {
  std::string body;
  AppendToFileBatch(body, "/index.html", "<h1>hi</h1>");
  AppendToFileBatch(body, "/empty.txt", "");
  AppendToFileBatch(body, "/bin", std::string("a\nb\0c", 5));
  auto files = ParseFileBatch(body);
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_EQ(files->size(), 3U);
  EXPECT_EQ((*files)[0].path, "/index.html");
  EXPECT_EQ((*files)[0].bytes, "<h1>hi</h1>");
  EXPECT_EQ((*files)[1].path, "/empty.txt");
  EXPECT_EQ((*files)[1].bytes, "");
  EXPECT_EQ((*files)[2].path, "/bin");
  EXPECT_EQ((*files)[2].bytes, std::string("a\nb\0c", 5));
}

TEST(FileBatch, RefusesMalformedBodies) {
  EXPECT_EQ(DetailOf(ParseFileBatch("")), "malformed_batch");
  EXPECT_EQ(DetailOf(ParseFileBatch("/a.html")), "malformed_batch") << "no size line";
  EXPECT_EQ(DetailOf(ParseFileBatch("/a.html\n3")), "malformed_batch") << "unterminated size";
  EXPECT_EQ(DetailOf(ParseFileBatch("/a.html\nx\nabc")), "malformed_batch");
  EXPECT_EQ(DetailOf(ParseFileBatch("/a.html\n-1\nabc")), "malformed_batch");
  EXPECT_EQ(DetailOf(ParseFileBatch("/a.html\n+3\nabc")), "malformed_batch");
  EXPECT_EQ(DetailOf(ParseFileBatch("/a.html\n4\nabc")), "malformed_batch") << "body too short";
  EXPECT_EQ(DetailOf(ParseFileBatch("\n3\nabc")), "malformed_batch") << "empty path";
  EXPECT_EQ(DetailOf(ParseFileBatch("/a\n99999999999999999999\nabc")), "malformed_batch");
  EXPECT_EQ(DetailOf(ParseFileBatch(std::string(2000, 'a') + "\n1\nx")), "malformed_batch");
  EXPECT_EQ(ParseFileBatch("/a.html\n4\nabc").error().code, ErrorCode::kBadRequest);
  // Trailing bytes after a whole record are a record without its size line.
  EXPECT_EQ(DetailOf(ParseFileBatch("/a\n1\nx/b")), "malformed_batch");
}

TEST(FileBatch, RefusesMoreFilesThanTheLimit) {
  std::string body;
  for (std::size_t i = 0; i < kMaxBatchFiles; ++i) AppendToFileBatch(body, "/f", "x");
  EXPECT_TRUE(ParseFileBatch(body).ok());
  AppendToFileBatch(body, "/f", "x");
  auto parsed = ParseFileBatch(body);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(parsed.error().detail_code, "too_many_files");
}

}  // namespace
}  // namespace replideploy::deploys

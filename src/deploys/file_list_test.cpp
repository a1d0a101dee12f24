#include "deploys/file_list.hpp"

#include <gtest/gtest.h>

#include <string>

namespace replideploy::deploys {
namespace {

const std::string kSha1(40, 'a');
const std::string kSha256(64, 'b');

std::string DetailOf(const Result<CheckedFileList>& result) {
  return result.ok() ? "ok" : result.error().detail_code;
}

TEST(FileList, NormalisesPathsAndKeepsDigests) {
  auto manifest =
      CheckFileList({{"index.html", kSha1}, {"/a/b.css", kSha1}}, {{"hello", kSha256}}, {});
  ASSERT_TRUE(manifest.ok()) << manifest.error().message;
  EXPECT_EQ(manifest->files.size(), 2U);
  EXPECT_EQ(manifest->files.at("/index.html"), kSha1);
  EXPECT_EQ(manifest->files.at("/a/b.css"), kSha1);
  EXPECT_EQ(manifest->functions.at("hello"), kSha256);
}

TEST(FileList, RefusesWhatCouldEscapeOrIsMalformed) {
  EXPECT_EQ(DetailOf(CheckFileList({{"../etc/passwd", kSha1}}, {}, {})), "invalid_path");
  EXPECT_EQ(DetailOf(CheckFileList({{"a//b", kSha1}}, {}, {})), "invalid_path");
  // Two spellings of one file.
  EXPECT_EQ(DetailOf(CheckFileList({{"a.html", kSha1}, {"/a.html", kSha1}}, {}, {})),
            "invalid_path");
  EXPECT_EQ(DetailOf(CheckFileList({{"a.html", "ABC"}}, {}, {})), "invalid_digest");
  EXPECT_EQ(DetailOf(CheckFileList({{"a.html", std::string(40, 'A')}}, {}, {})), "invalid_digest");
  EXPECT_EQ(DetailOf(CheckFileList({}, {{"..", kSha256}}, {})), "invalid_function");
  EXPECT_EQ(DetailOf(CheckFileList({}, {{"a/b", kSha256}}, {})), "invalid_function");
  EXPECT_EQ(DetailOf(CheckFileList({}, {{"fn", kSha1}}, {})), "invalid_digest");
}

TEST(FileList, EnforcesItsLimits) {
  FileListLimits limits;
  limits.max_files = 2;
  limits.max_path_bytes = 8;
  EXPECT_EQ(DetailOf(CheckFileList({{"a", kSha1}, {"b", kSha1}}, {{"f", kSha256}}, limits)),
            "too_many_files");
  EXPECT_EQ(DetailOf(CheckFileList({{"123456789", kSha1}}, {}, limits)), "invalid_path");
  EXPECT_EQ(DetailOf(CheckFileList({{"12345678", kSha1}}, {}, limits)), "ok");
}

}  // namespace
}  // namespace replideploy::deploys

#include "builder/functions_bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

namespace replideploy::builder {
namespace {

namespace fs = std::filesystem;

// name -> content of every entry of a zip, read back with libarchive.
std::map<std::string, std::string> Unzip(const std::string& zip) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_zip(a);
  EXPECT_EQ(archive_read_open_memory(a, zip.data(), zip.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    archive_read_data(a, data.data(), data.size());
    out[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return out;
}

class Functions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rd-functions-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& content) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << content;
  }
  fs::path dir_;
};

TEST_F(Functions, FilesAndFoldersBecomeOneZipEach) {
  Write("hello.js", "export default () => new Response('hi')");
  Write("api/api.mjs", "export default async () => 1");
  Write("api/lib/util.js", "module.exports = 2");
  Write("README.md", "not a function");
  Write("gofn.go", "package main");
  fs::create_symlink("/etc/passwd", dir_ / "leak.js");
  auto bundles = BundleFunctions(dir_);
  ASSERT_TRUE(bundles.ok()) << bundles.error().message;
  ASSERT_EQ(bundles->size(), 3u);
  EXPECT_EQ((*bundles)[0].name, "api");
  EXPECT_EQ(Unzip((*bundles)[0].zip),
            (std::map<std::string, std::string>{{"api/api.mjs", "export default async () => 1"},
                                                {"api/lib/util.js", "module.exports = 2"}}));
  EXPECT_EQ((*bundles)[1].name, "gofn");
  EXPECT_EQ((*bundles)[1].runtime, "go");
  EXPECT_EQ((*bundles)[2].name, "hello");
  EXPECT_EQ((*bundles)[2].runtime, "js");
  EXPECT_EQ(Unzip((*bundles)[2].zip).at("hello.js"), "export default () => new Response('hi')");
}

TEST_F(Functions, ZipsAreDeterministic) {
  Write("a.js", "1");
  auto first = BundleFunctions(dir_);
  fs::last_write_time(dir_ / "a.js", fs::file_time_type::clock::now() - std::chrono::hours(5));
  auto second = BundleFunctions(dir_);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ((*first)[0].zip, (*second)[0].zip);
}

TEST_F(Functions, BadNamesAndMissingFolder) {
  Write("bad name.js", "1");
  auto bad = BundleFunctions(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().detail_code, "invalid_function");
  auto none = BundleFunctions(dir_ / "missing");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace replideploy::builder

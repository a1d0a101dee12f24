#include "sandbox/untrusted_tree.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace replideploy::sandbox {
namespace {

namespace fs = std::filesystem;

class UntrustedTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("rd-tree-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "repo" / "dist");
    // What the "host" keeps next to the workspace: must never be read through the tree.
    fs::create_directories(root_ / "host");
    Write(root_ / "host" / "secret.key", "HOST-SECRET");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }

  // path -> content of every file the walk publishes, plus the skip reasons.
  std::map<std::string, std::string> WalkAll(const UntrustedTree& tree,
                                             std::map<std::string, std::string>* skipped = nullptr,
                                             TreeLimits limits = {}) {
    std::map<std::string, std::string> files;
    UntrustedTree::WalkOptions options;
    options.limits = limits;
    options.on_skip = [&](std::string_view path, std::string_view reason) {
      if (skipped) (*skipped)[std::string(path)] = std::string(reason);
    };
    const Status st = tree.Walk(options, [&](const UntrustedTree::File& file) -> Status {
      std::string data(file.size, '\0');
      EXPECT_EQ(pread(file.fd, data.data(), data.size(), 0), static_cast<ssize_t>(file.size));
      files[file.path] = data;
      return {};
    });
    last_walk_ = st;
    return files;
  }

  fs::path root_;
  Status last_walk_;
};

TEST_F(UntrustedTreeTest, WalksRegularFilesInOrder) {
  Write(root_ / "repo/dist/index.html", "home");
  Write(root_ / "repo/dist/a/b/c.txt", "deep");
  auto tree = UntrustedTree::Open(root_.string(), "repo/dist");
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  const auto files = WalkAll(*tree);
  ASSERT_TRUE(last_walk_.ok());
  EXPECT_EQ(files,
            (std::map<std::string, std::string>{{"a/b/c.txt", "deep"}, {"index.html", "home"}}));
}

TEST_F(UntrustedTreeTest, CheckoutSwappedForALinkIsRefused) {
  fs::remove_all(root_ / "repo");
  fs::create_directory_symlink(root_ / "host", root_ / "repo");
  auto tree = UntrustedTree::Open(root_.string(), "repo");
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().code, ErrorCode::kUnprocessable);
  // Also through a relative link and through a link further down.
  fs::remove(root_ / "repo");
  fs::create_directories(root_ / "repo");
  fs::create_directory_symlink("../../host", root_ / "repo" / "dist");
  EXPECT_FALSE(UntrustedTree::Open(root_.string(), "repo/dist").ok());
  EXPECT_FALSE(UntrustedTree::Open(root_.string(), "repo/dist/.").ok());
  EXPECT_FALSE(UntrustedTree::Open(root_.string(), "repo/../host").ok());
  EXPECT_FALSE(UntrustedTree::Open(root_.string(), "/etc").ok());
}

TEST_F(UntrustedTreeTest, LinksArePublishedOnlyWhenTheyStayInside) {
  Write(root_ / "repo/dist/real.txt", "inside");
  Write(root_ / "repo/outside-dist.txt", "beside the output");
  fs::create_directories(root_ / "repo/dist/docs");
  Write(root_ / "repo/dist/docs/page.html", "page");
  fs::create_symlink("real.txt", root_ / "repo/dist/alias.txt");
  fs::create_directory_symlink("docs", root_ / "repo/dist/manual");
  fs::create_symlink(root_ / "host/secret.key", root_ / "repo/dist/abs.key");
  fs::create_symlink("../../host/secret.key", root_ / "repo/dist/rel.key");
  fs::create_symlink("../outside-dist.txt", root_ / "repo/dist/up.txt");
  fs::create_symlink("/proc/self/root/etc/passwd", root_ / "repo/dist/proc.txt");
  fs::create_symlink("missing", root_ / "repo/dist/dangling");
  fs::create_directory_symlink(".", root_ / "repo/dist/docs/loop");
  auto tree = UntrustedTree::Open(root_.string(), "repo/dist");
  ASSERT_TRUE(tree.ok());
  std::map<std::string, std::string> skipped;
  const auto files = WalkAll(*tree, &skipped);
  ASSERT_TRUE(last_walk_.ok()) << last_walk_.error().message;
  EXPECT_EQ(files.at("alias.txt"), "inside");
  EXPECT_EQ(files.at("manual/page.html"), "page");
  for (const char* out : {"abs.key", "rel.key", "up.txt", "proc.txt", "dangling"}) {
    EXPECT_EQ(files.count(out), 0u) << out;
    EXPECT_EQ(skipped.count(out), 1u) << out;
  }
  for (const auto& [path, data] : files) EXPECT_NE(data, "HOST-SECRET") << path;
}

TEST_F(UntrustedTreeTest, DevicesAndPipesAreSkippedWithoutBlocking) {
  ASSERT_EQ(mkfifo((root_ / "repo/dist/pipe").c_str(), 0644), 0);
  Write(root_ / "repo/dist/ok.txt", "ok");
  auto tree = UntrustedTree::Open(root_.string(), "repo/dist");
  ASSERT_TRUE(tree.ok());
  std::map<std::string, std::string> skipped;
  const auto files = WalkAll(*tree, &skipped);
  EXPECT_EQ(files.size(), 1u);
  EXPECT_EQ(skipped.count("pipe"), 1u);
  EXPECT_EQ(tree->ReadFile("pipe", 100)->has_value(), false);
}

TEST_F(UntrustedTreeTest, LimitsOnFilesAndBytes) {
  for (int i = 0; i < 20; ++i) Write(root_ / "repo/dist" / std::to_string(i), "0123456789");
  auto tree = UntrustedTree::Open(root_.string(), "repo/dist");
  ASSERT_TRUE(tree.ok());
  WalkAll(*tree, nullptr, TreeLimits{.max_files = 19, .max_bytes = 1000, .max_depth = 8});
  ASSERT_FALSE(last_walk_.ok());
  EXPECT_NE(last_walk_.error().message.find("more than 19 files"), std::string::npos);
  WalkAll(*tree, nullptr, TreeLimits{.max_files = 100, .max_bytes = 150, .max_depth = 8});
  ASSERT_FALSE(last_walk_.ok());
  EXPECT_NE(last_walk_.error().message.find("larger than"), std::string::npos);
  WalkAll(*tree, nullptr, TreeLimits{.max_files = 20, .max_bytes = 200, .max_depth = 8});
  EXPECT_TRUE(last_walk_.ok());
}

TEST_F(UntrustedTreeTest, ReadFileNeverFollowsALink) {
  Write(root_ / "repo/netlify.toml", "[build]\n");
  fs::create_symlink(root_ / "host/secret.key", root_ / "repo/package.json");
  fs::create_directory_symlink(root_ / "host", root_ / "repo/sub");
  auto tree = UntrustedTree::Open(root_.string(), "repo");
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(**tree->ReadFile("netlify.toml", 100), "[build]\n");
  EXPECT_FALSE(tree->ReadFile("package.json", 100)->has_value());
  EXPECT_FALSE(tree->ReadFile("sub/secret.key", 100)->has_value());
  EXPECT_FALSE(tree->ReadFile("netlify.toml", 3).ok());
  EXPECT_EQ(tree->Type("package.json"), EntryType::kSymlink);
  EXPECT_EQ(tree->Type("sub/secret.key"), EntryType::kMissing);
  EXPECT_EQ(tree->Type("netlify.toml"), EntryType::kFile);
  EXPECT_EQ(tree->Type("dist"), EntryType::kDirectory);
}

}  // namespace
}  // namespace replideploy::sandbox

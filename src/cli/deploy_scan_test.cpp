// The folder walk of ScanDirectory: what it lists and leaves out, links, permissions, and what a
// cache keeps across edits. It pins what std::filesystem::recursive_directory_iterator (with
// skip_permission_denied) listed before the walk was rewritten with openat/fstatat.
#include "cli/deploy_scan.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "cli/deploy_cache.hpp"
#include "core/crypto.hpp"
#include "store/testing.hpp"

namespace replideploy::cli {
namespace {

namespace fs = std::filesystem;

std::string Sha1(std::string_view s) { return core::HexEncode(core::Sha1(s)); }

class DeployScanTest : public ::testing::Test {
 protected:
  void SetUp() override { core::InitCrypto(); }
  std::string site() const { return dir_.path() + "/site"; }
  // Writes `content` to site/rel, an hour old (out of the racy window).
  void Write(const std::string& rel, const std::string& content) {
    const std::string path = site() + "/" + rel;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    ASSERT_TRUE(
        store::testing::SetMtime(path, std::chrono::system_clock::now() - std::chrono::hours(1)));
  }
  // Deploy path -> SHA-1 of a scan that must succeed.
  std::map<std::string, std::string> Listed(DeployCache& cache, const std::string& dir) {
    auto scanned = ScanDirectory(dir, cache);
    EXPECT_TRUE(scanned.ok()) << scanned.error().message;
    std::map<std::string, std::string> out;
    if (!scanned.ok()) return out;
    for (const LocalFile& f : scanned->files) {
      out[f.path] = f.sha1;
      EXPECT_EQ(f.size, fs::file_size(f.disk_path)) << f.path;
    }
    return out;
  }
  std::map<std::string, std::string> Listed() {
    DeployCache cache;
    return Listed(cache, site());
  }

  store::testing::ScopedTempDir dir_;
};

TEST_F(DeployScanTest, NestedFoldersAreListedAndDotFilesNodeModulesAndMacosxAreNot) {
  Write("index.html", "home");
  Write("a/b/c/deep.txt", "deep");
  Write(".env", "secret");
  Write(".git/config", "git");
  Write("node_modules/pkg/index.js", "js");
  Write("__MACOSX/._index.html", "mac");
  Write("a/.hidden/q.txt", "hidden");
  Write("a/b/node_modules", "a file named node_modules");
  Write(".well-known/security.txt", "contact");
  Write("a/.well-known/x.txt", "nested well-known");
  fs::create_directories(site() + "/empty/folder");
  const std::map<std::string, std::string> want = {
      {"/index.html", Sha1("home")},
      {"/a/b/c/deep.txt", Sha1("deep")},
      {"/.well-known/security.txt", Sha1("contact")},
      {"/a/.well-known/x.txt", Sha1("nested well-known")},
  };
  EXPECT_EQ(Listed(), want);

  // A folder named with a trailing slash: the same files, disk paths without a double slash.
  DeployCache cache;
  auto scanned = ScanDirectory(site() + "/", cache);
  ASSERT_TRUE(scanned.ok()) << scanned.error().message;
  ASSERT_EQ(scanned->files.size(), want.size());
  for (const LocalFile& f : scanned->files) EXPECT_EQ(f.disk_path, site() + f.path);
}

TEST_F(DeployScanTest, LinksToFilesAreListedLinksToFoldersAndBrokenLinksAreNot) {
  Write("index.html", "home");
  Write("real/inner.txt", "inner");
  std::ofstream(dir_.path() + "/outside.txt") << "outside";
  fs::create_symlink("index.html", site() + "/alias.html");
  fs::create_symlink(dir_.path() + "/outside.txt", site() + "/outside.txt");
  fs::create_directory_symlink("real", site() + "/linked-folder");
  fs::create_symlink("nowhere.txt", site() + "/broken.txt");
  ASSERT_EQ(::mkfifo((site() + "/fifo").c_str(), 0644), 0);
  const std::map<std::string, std::string> want = {
      {"/index.html", Sha1("home")},
      {"/real/inner.txt", Sha1("inner")},
      {"/alias.html", Sha1("home")},      // the link's path, the target's content
      {"/outside.txt", Sha1("outside")},  // even out of the folder, as before
  };
  EXPECT_EQ(Listed(), want);

  // A link to a file: cached by the target's stat, so an edit of the target is seen.
  DeployCache cache;
  Listed(cache, site());
  Write("index.html", "HOME");
  EXPECT_EQ(Listed(cache, site()).at("/alias.html"), Sha1("HOME"));

  // A link loop cannot be told apart from a file that cannot be read: the scan fails, naming it
  // (the iterator threw there, ending the CLI).
  fs::create_symlink("loop", site() + "/loop");
  DeployCache fresh;
  auto scanned = ScanDirectory(site(), fresh);
  ASSERT_FALSE(scanned.ok());
  EXPECT_NE(scanned.error().message.find(site() + "/loop"), std::string::npos)
      << scanned.error().message;
}

TEST_F(DeployScanTest, AFolderThatIsNotOneFails) {
  DeployCache cache;
  auto missing = ScanDirectory(site() + "/none", cache);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("is not a directory"), std::string::npos);
  Write("file.txt", "x");
  auto file = ScanDirectory(site() + "/file.txt", cache);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("is not a directory"), std::string::npos);
}

// Permissions do not hold for root: the scan runs in a child as "nobody" then.
TEST_F(DeployScanTest, UnreadableFoldersAreLeftOutAndAnUnreadableFileFails) {
  Write("index.html", "home");
  Write("locked/secret.txt", "secret");
  Write("open/page.txt", "page");
  ASSERT_EQ(::chmod((site() + "/locked").c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  const auto scan_as_user = [&](const std::string& dir) -> std::string {
    // "ok N" with the number of files, or the error.
    const auto scan = [&dir] {
      DeployCache cache;
      auto scanned = ScanDirectory(dir, cache);
      if (!scanned.ok()) return scanned.error().message;
      std::string out = "ok " + std::to_string(scanned->files.size());
      for (const std::string& folder : scanned->unreadable_folders) out += " without " + folder;
      return out;
    };
    if (::geteuid() != 0) return scan();
    int fds[2];
    if (::pipe(fds) != 0) return "pipe failed";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0;
      const std::string out = dropped ? scan() : "cannot drop root";
      (void)!::write(fds[1], out.data(), out.size());
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string out;
    char buffer[512];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, n);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
  };
  // As recursive_directory_iterator with skip_permission_denied: left out, and named (the
  // deploy command warns about each).
  EXPECT_EQ(scan_as_user(site()), "ok 2 without " + site() + "/locked");
  EXPECT_EQ(scan_as_user(site() + "/locked"), "ok 0 without " + site() + "/locked");
  ASSERT_EQ(::chmod((site() + "/locked").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((site() + "/open/page.txt").c_str(), 0), 0);
  EXPECT_EQ(scan_as_user(site()), "cannot read " + site() + "/open/page.txt");
}

TEST_F(DeployScanTest, AddedDeletedAndEditedFilesBetweenScans) {
  Write("keep.txt", "keep");
  Write("edit.txt", "edit 1");
  Write("gone/away.txt", "away");
  DeployCache cache;
  auto first = ScanDirectory(site(), cache);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->hashed, 3U);
  EXPECT_EQ(cache.digests.size(), 3U);

  fs::remove_all(site() + "/gone");
  Write("edit.txt", "edit 2");  // same size: told apart by the mtime
  Write("added/new.txt", "new");
  auto second = ScanDirectory(site(), cache);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->hashed, 2U) << "the edited and the added file";
  std::map<std::string, std::string> got;
  for (const LocalFile& f : second->files) got[f.path] = f.sha1;
  const std::map<std::string, std::string> want = {
      {"/keep.txt", Sha1("keep")}, {"/edit.txt", Sha1("edit 2")}, {"/added/new.txt", Sha1("new")}};
  EXPECT_EQ(got, want);
  EXPECT_FALSE(cache.digests.contains("/gone/away.txt")) << "a deleted file is forgotten";
  ASSERT_TRUE(cache.digests.contains("/edit.txt"));
  EXPECT_EQ(cache.digests.at("/edit.txt").sha1, Sha1("edit 2"));
  EXPECT_EQ(cache.digests.size(), 3U);

  auto third = ScanDirectory(site(), cache);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->hashed, 0U);
}

}  // namespace
}  // namespace replideploy::cli

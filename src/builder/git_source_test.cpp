#include "builder/git_source.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/subprocess.hpp"

namespace replideploy::builder {
namespace {

namespace fs = std::filesystem;

TEST(CheckGitUrl, AcceptsPublicHttpUrls) {
  EXPECT_TRUE(CheckGitUrl("https://github.com/octocat/Hello-World.git").ok());
  EXPECT_TRUE(CheckGitUrl("https://gitlab.com/group/sub/project").ok());
  EXPECT_TRUE(CheckGitUrl("http://git.example.org:8080/repo.git").ok());
}

TEST(CheckGitUrl, RefusesOtherSchemesCredentialsAndJunk) {
  for (const char* url :
       {"file:///etc", "/srv/repo.git", "ssh://git@github.com/a/b.git", "git@github.com:a/b.git",
        "ext::sh -c touch% /tmp/pwned", "https://user:pass@github.com/a/b.git",
        "https://github.com", "https://github.com/", "https://github.com/a b.git",
        "https://github.com/a\nb.git", "", "--upload-pack=touch /tmp/x"}) {
    Status st = CheckGitUrl(url);
    ASSERT_FALSE(st.ok()) << url;
    EXPECT_EQ(st.error().detail_code, "invalid_repo_url") << url;
  }
  EXPECT_FALSE(CheckGitUrl("https://example.com/" + std::string(3000, 'a')).ok());
}

TEST(RemoteHead, RefusesLoopbackUnlessAllowed) {
  GitSource source{"http://127.0.0.1:1/repo.git", "", false};
  auto head = RemoteHead(source, "main");
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.error().detail_code, "non_public_host");
  source.allow_private = true;
  head = RemoteHead(source, "main");
  ASSERT_FALSE(head.ok());  // nothing listens on port 1
  EXPECT_EQ(head.error().detail_code, "git_fetch_failed");
}

class LocalRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("rd-git-source-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "work");
    Git({"init", "--quiet", "-b", "main", (root_ / "work").string()});
    std::ofstream(root_ / "work" / "index.html") << "<h1>one</h1>";
    Git({"-C", (root_ / "work").string(), "add", "."});
    Git({"-C", (root_ / "work").string(), "commit", "--quiet", "-m", "First commit"});
    first_ = Head();
    std::ofstream(root_ / "work" / "index.html") << "<h1>two</h1>";
    Git({"-C", (root_ / "work").string(), "commit", "--quiet", "-am", "Second: change title"});
    second_ = Head();
    Git({"clone", "--quiet", "--bare", (root_ / "work").string(), (root_ / "bare.git").string()});
  }
  void TearDown() override { fs::remove_all(root_); }

  static void Git(std::vector<std::string> args) {
    args.insert(args.begin(), "git");
    auto r = core::RunProcess({.argv = args,
                               .extra_env = {"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t",
                                             "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t"}});
    ASSERT_TRUE(r.ok() && r->Succeeded()) << args[1] << ": " << (r.ok() ? r->err : "");
  }
  std::string Head() {
    auto r =
        core::RunProcess({.argv = {"git", "-C", (root_ / "work").string(), "rev-parse", "HEAD"}});
    std::string s = r->out;
    s.pop_back();
    return s;
  }

  fs::path root_;
  std::string first_, second_;
};

TEST_F(LocalRepo, RemoteHeadAndFetchAnOlderCommit) {
  GitSource source{(root_ / "bare.git").string(), "", false};
  auto head = RemoteHead(source, "main");
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(*head, second_);
  auto missing = RemoteHead(source, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().detail_code, "branch_not_found");

  std::vector<std::string> log;
  const std::string checkout = (root_ / "checkout").string();
  Status st = FetchCommit(source, first_, "main", checkout,
                          [&](std::string_view line) { log.emplace_back(line); });
  ASSERT_TRUE(st.ok()) << st.error().message;
  std::ifstream in(root_ / "checkout" / "index.html");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "<h1>one</h1>");
  EXPECT_EQ(CommitSubject((root_ / "bare.git").string(), second_), "Second: change title");
}

TEST_F(LocalRepo, UnknownCommitAndBadInputFail) {
  GitSource source{(root_ / "bare.git").string(), "", false};
  Status unknown = FetchCommit(source, std::string(40, 'a'), "main", (root_ / "c1").string(),
                               [](std::string_view) {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().detail_code, "git_fetch_failed");
  Status not_sha = FetchCommit(source, "--upload-pack=x", "main", (root_ / "c2").string(),
                               [](std::string_view) {});
  ASSERT_FALSE(not_sha.ok());
  EXPECT_EQ(not_sha.error().detail_code, "invalid_commit");
  EXPECT_FALSE(RemoteHead(source, "--output=/tmp/x").ok());
  EXPECT_EQ(CommitSubject((root_ / "bare.git").string(), "HEAD; rm -rf /"), "");
}

}  // namespace
}  // namespace replideploy::builder

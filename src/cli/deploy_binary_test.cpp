// `replideploy deploy` run twice and more from one folder: the second sends only the changes
// (deploy_cache.hpp, PUT /api/v1/deploys/{id}/file_changes), and anything that makes the cache
// useless (corrupt, a base deploy that is gone) still ends in a correct deploy.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "cli/binary_fixture.hpp"

namespace replideploy::cli {
namespace {

namespace fs = std::filesystem;

class DeployBinary : public BinaryFixture {
 protected:
  // Writes `content` to `path` with an mtime `seconds_ago` (old enough to be cached; an edit
  // gets another age than the content it replaces, as a real edit gets a newer mtime).
  static void WriteOld(const std::string& path, const std::string& content,
                       int seconds_ago = 3600) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    const timespec hour_ago{time(nullptr) - seconds_ago, 0};
    const timespec times[2] = {hour_ago, hour_ago};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
};

TEST_F(DeployBinary, RedeploySendsOnlyTheChangesAndFallsBackWhenTheBaseIsGone) {
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartRole(pid, "serve", {}, "srv-");
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/srv-stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const Caller call{base, "cached.localhost"};
  const std::string token = SignUpToken(base, "cache@example.com");
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"cached"})", token, "").status, 201);
  const std::string folder = dir_ + "/public";
  fs::create_directories(folder + "/sub");
  WriteOld(folder + "/index.html", "home");
  WriteOld(folder + "/a.txt", "a one");
  WriteOld(folder + "/sub/b.txt", "bee");
  // More files than changes below, or the CLI sends the whole list (it is no longer then).
  for (int i = 0; i < 6; ++i) {
    WriteOld(folder + "/p" + std::to_string(i) + ".txt", "page " + std::to_string(i));
  }
  const auto deploy = [&] {
    return Exec(
        {"deploy", folder, "--site", "cached", "--prod", "--api-url", base, "--auth-token", token});
  };

  Outcome first = deploy();
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.err.find("(0 unchanged since the last deploy)"), std::string::npos) << first.err;
  EXPECT_EQ(first.err.find("Sent the changes"), std::string::npos) << first.err;

  // An edit, a deletion, an addition: only those travel, and the edge serves the result.
  WriteOld(folder + "/a.txt", "a two", 3000);
  fs::remove(folder + "/sub/b.txt");
  std::ofstream(folder + "/c.txt") << "sea";
  Outcome second = deploy();
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.err.find("(7 unchanged since the last deploy)"), std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("Sent the changes since deploy"), std::string::npos) << second.err;
  EXPECT_EQ(call("GET", "/a.txt", "", "").body, "a two");
  EXPECT_EQ(call("GET", "/c.txt", "", "").body, "sea");
  EXPECT_EQ(call("GET", "/", "", "").body, "home");
  EXPECT_EQ(call("GET", "/sub/b.txt", "", "").status, 404);
  EXPECT_EQ(call("GET", "/p5.txt", "", "").body, "page 5");

  // A corrupt cache: everything hashed again, the whole list sent, the same site.
  for (const auto& entry : fs::directory_iterator(dir_ + "/xdg-cache/replideploy")) {
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc)
        << "replideploy-deploy-cache 1\nx";
  }
  WriteOld(folder + "/a.txt", "a three", 2400);
  Outcome third = deploy();
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_NE(third.err.find("(0 unchanged since the last deploy)"), std::string::npos) << third.err;
  EXPECT_EQ(third.err.find("Sent the changes"), std::string::npos) << third.err;
  EXPECT_EQ(call("GET", "/a.txt", "", "").body, "a three");
  EXPECT_EQ(call("GET", "/c.txt", "", "").body, "sea");

  // The site deleted and made again: the remembered base deploy is gone; the server refuses it
  // and the CLI sends the whole list.
  ASSERT_LT(call("DELETE", "/api/v1/sites/cached", "", token, "").status, 300);
  ASSERT_EQ(call("POST", "/api/v1/sites", R"({"name":"cached"})", token, "").status, 201);
  Outcome fourth = deploy();
  ASSERT_EQ(fourth.exit_code, 0) << fourth.out << fourth.err;
  EXPECT_NE(fourth.err.find("cannot be built on"), std::string::npos) << fourth.err;
  EXPECT_EQ(fourth.err.find("Sent the changes"), std::string::npos) << fourth.err;
  EXPECT_EQ(call("GET", "/a.txt", "", "").body, "a three");
  EXPECT_EQ(call("GET", "/", "", "").body, "home");
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

}  // namespace
}  // namespace replideploy::cli

// `replideploy rules test`: on a local folder before deploying, and on the deployed site through
// the API; both explain with the edge's own routing, so both must say the same.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "cli/binary_fixture.hpp"

namespace replideploy::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

class RulesTestCommand : public BinaryFixture {
 protected:
  // A folder with a file, a _redirects with a line Netlify skips, and a _headers.
  std::string MakeSite() {
    const std::string folder = dir_ + "/public";
    fs::create_directories(folder + "/blog");
    std::ofstream(folder + "/index.html") << "home";
    std::ofstream(folder + "/blog/post.html") << "post";
    std::ofstream(folder + "/_redirects") << "/old /blog/post 301\n"
                                             "/news/* /blog/:splat 302\n"
                                             "/mid/*.jpg /img\n"
                                             "/* /index.html 200\n";
    std::ofstream(folder + "/_headers") << "/blog/*\n  Cache-Control: public, max-age=60\n";
    return folder;
  }
};

TEST_F(RulesTestCommand, ExplainsALocalFolderWithoutAServer) {
  const std::string folder = MakeSite();
  Outcome run = Exec({"rules", "test", "/news/post?ref=x", "--dir", folder});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("=> _redirects:2  /news/* /blog/:splat 302\n       matched"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("_redirects:1  /old /blog/post 301\n       not_matched: the path does "
                         "not match /old"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("Answer: 302 redirect to /blog/post?ref=x by _redirects:2"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.err.find("warning: _redirects:3: '*' is only allowed at the end of FROM"),
            std::string::npos)
      << run.err;

  run = Exec({"rules", "test", "/blog/post", "--dir", folder, "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json::value doc = json::parse(run.out);
  EXPECT_EQ(doc.at("answer").at("kind").as_string(), "file");
  EXPECT_EQ(doc.at("answer").at("file").as_string(), "/blog/post.html");
  EXPECT_EQ(doc.at("redirects").at(2).at("outcome").as_string(), "shadowed");
  EXPECT_EQ(doc.at("answer").at("headers").at(0).at("value").as_string(), "public, max-age=60");

  run = Exec({"rules", "test", "no-slash", "--dir", folder});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("url: give a path"), std::string::npos) << run.err;
  run = Exec({"rules", "test", "/", "--dir", dir_ + "/absent"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("is not a directory"), std::string::npos) << run.err;
  run = Exec({"rules", "test", "/", "--dir", folder, "--header", "no colon"});
  EXPECT_EQ(run.exit_code, 1);
}

TEST_F(RulesTestCommand, ExplainsTheDeployedSiteAsTheLocalFolder) {
  const std::string folder = MakeSite();
  ASSERT_EQ(Exec({"migrate", "--data-dir", DataDir()}).exit_code, 0);
  pid_t pid = 0;
  const std::string port = StartRole(pid, "serve", {}, "srv-");
  ASSERT_FALSE(port.empty()) << ReadFile(dir_ + "/srv-stderr");
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = SignUpToken(base, "rules@example.com");
  ASSERT_FALSE(token.empty());
  const std::vector<std::string> auth = {"--api-url", base, "--auth-token", token};
  auto with_auth = [&](std::vector<std::string> args) {
    args.insert(args.end(), auth.begin(), auth.end());
    return args;
  };
  ASSERT_EQ(Exec(with_auth({"sites", "create", "blog"})).exit_code, 0);
  Outcome none = Exec(with_auth({"rules", "test", "/old", "--site", "blog"}));
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("has nothing published yet"), std::string::npos) << none.err;
  ASSERT_EQ(Exec(with_auth({"deploy", folder, "--site", "blog", "--prod"})).exit_code, 0);

  for (const std::string url : {"/old", "/news/a?b=c", "/blog/post", "/anything"}) {
    Outcome remote = Exec(with_auth({"rules", "test", url, "--site", "blog"}));
    ASSERT_EQ(remote.exit_code, 0) << remote.err;
    Outcome local = Exec({"rules", "test", url, "--dir", folder, "--site", "blog"});
    ASSERT_EQ(local.exit_code, 0) << local.err;
    // The same rules and answer; only the first line (which deploy) differs.
    auto body = [](const std::string& text) { return text.substr(text.find('\n')); };
    EXPECT_EQ(body(remote.out), body(local.out)) << url;
    // And the edge answers what they say.
    auto edge = Call(base, "GET", url, "", "", "blog.localhost");
    ASSERT_TRUE(edge.ok());
    EXPECT_NE(remote.out.find("Answer: " + std::to_string(edge->status) + " "), std::string::npos)
        << url << remote.out;
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid).exit_code, 0);
}

}  // namespace
}  // namespace replideploy::cli

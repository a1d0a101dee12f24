#include "api/dashboard.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/testing.hpp"

namespace replideploy::api {
namespace {

namespace fs = std::filesystem;

class Dashboard : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [path, text] :
         std::map<std::string, std::string>{{"index.html", "home"},
                                            {"404.html", "not found page"},
                                            {"login/index.html", "login"},
                                            {"sites/_/index.html", "site shell"},
                                            {"sites/_/deploys/_/index.html", "deploy shell"},
                                            {"_next/static/app.js", "js"}}) {
      fs::create_directories(fs::path(dir_.path() + "/" + path).parent_path());
      std::ofstream(dir_.path() + "/" + path) << text;
    }
    files_ = DashboardFiles::Load(dir_.path()).value();
  }
  http::Response Get(const std::string& target) {
    http::Request r;
    r.method = "GET";
    r.target = target;
    return files_->Serve(r);
  }
  store::testing::ScopedTempDir dir_;
  std::unique_ptr<DashboardFiles> files_;
};

TEST_F(Dashboard, ServesFilesAndPages) {
  EXPECT_EQ(Get("/").BodyView(), "home");
  EXPECT_EQ(Get("/login/").BodyView(), "login");
  EXPECT_EQ(Get("/login").BodyView(), "login");
  auto js = Get("/_next/static/app.js");
  EXPECT_EQ(js.headers.Get("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Get("/").headers.Get("Cache-Control"), "no-cache");
}

TEST_F(Dashboard, DynamicSegmentsFallBackToTheShell) {
  EXPECT_EQ(Get("/sites/blog/").BodyView(), "site shell");
  EXPECT_EQ(Get("/sites/blog").BodyView(), "site shell");
  EXPECT_EQ(Get("/sites/blog/deploys/abc123/").BodyView(), "deploy shell");
  auto missing = Get("/no/such/page");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.BodyView(), "not found page");
}

TEST_F(Dashboard, TraversalIsRefused) {
  EXPECT_EQ(Get("/%2e%2e/%2e%2e/etc/passwd").status, 400);
  EXPECT_EQ(Get("/../../etc/passwd").status, 400);
}

TEST(DashboardEmpty, ExplainsHowToBuild) {
  auto files = DashboardFiles::Load("/nonexistent-dir").value();
  http::Request r;
  r.method = "GET";
  r.target = "/";
  auto page = files->Serve(r);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("dashboard"), std::string::npos);
}

}  // namespace
}  // namespace replideploy::api

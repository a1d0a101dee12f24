#include "edge/static_files.hpp"

#include <gtest/gtest.h>

namespace replideploy::edge {
namespace {

deploys::DeployManifest Manifest(std::initializer_list<const char*> paths) {
  deploys::DeployManifest m;
  for (const char* p : paths) m.files.Insert(p, std::string(64, 'a'), 1, "text/html");
  return m;
}

TEST(StaticFiles, RootAndExact) {
  auto m = Manifest({"/index.html", "/style.css"});
  EXPECT_EQ(ResolveStatic(m, "/").path, "/index.html");
  EXPECT_EQ(ResolveStatic(m, "/style.css").path, "/style.css");
  EXPECT_EQ(ResolveStatic(m, "/missing").kind, StaticMatch::Kind::kNone);
}

TEST(StaticFiles, PrettyUrls) {
  auto m = Manifest({"/about.html", "/docs/index.html"});
  auto about = ResolveStatic(m, "/about");
  EXPECT_EQ(about.kind, StaticMatch::Kind::kFile);
  EXPECT_EQ(about.path, "/about.html");
  auto about_slash = ResolveStatic(m, "/about/");
  EXPECT_EQ(about_slash.kind, StaticMatch::Kind::kRedirect);
  EXPECT_EQ(about_slash.path, "/about");
  auto docs = ResolveStatic(m, "/docs");
  EXPECT_EQ(docs.kind, StaticMatch::Kind::kRedirect);
  EXPECT_EQ(docs.path, "/docs/");
  auto docs_slash = ResolveStatic(m, "/docs/");
  EXPECT_EQ(docs_slash.kind, StaticMatch::Kind::kFile);
  EXPECT_EQ(docs_slash.path, "/docs/index.html");
}

TEST(StaticFiles, ExactBeatsHtml) {
  auto m = Manifest({"/a", "/a.html"});
  EXPECT_EQ(ResolveStatic(m, "/a").path, "/a");
}

TEST(StaticFiles, RuleFilesAreNeverServed) {
  auto m = Manifest({"/_redirects", "/_headers", "/netlify.toml"});
  for (const char* p : {"/_redirects", "/_headers", "/netlify.toml"}) {
    EXPECT_EQ(ResolveStatic(m, p).kind, StaticMatch::Kind::kNone) << p;
  }
}

}  // namespace
}  // namespace replideploy::edge

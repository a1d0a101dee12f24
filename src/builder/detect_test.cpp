#include "builder/detect.hpp"

#include <gtest/gtest.h>

namespace replideploy::builder {
namespace {

DetectedBuild Detect(const std::string& package_json, bool npm_lock = true, bool yarn = false,
                     bool pnpm = false) {
  ProjectFiles f;
  f.package_json = package_json;
  f.has_package_lock = npm_lock;
  f.has_yarn_lock = yarn;
  f.has_pnpm_lock = pnpm;
  auto r = DetectBuild(f);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : DetectedBuild{};
}

TEST(DetectBuild, FrameworksAndTheirPublishFolders) {
  struct Case {
    const char* dep;
    const char* framework;
    const char* publish;
  };
  for (const Case& c :
       {Case{"vite", "vite", "dist"}, Case{"next", "next", "out"}, Case{"astro", "astro", "dist"},
        Case{"react-scripts", "create-react-app", "build"}, Case{"gatsby", "gatsby", "public"},
        Case{"@11ty/eleventy", "eleventy", "_site"}, Case{"@sveltejs/kit", "sveltekit", "build"},
        Case{"@docusaurus/core", "docusaurus", "build"}}) {
    const std::string pkg =
        std::string(R"({"scripts":{"build":"x"},"devDependencies":{")") + c.dep + R"(":"1"}})";
    DetectedBuild d = Detect(pkg);
    EXPECT_EQ(d.framework, c.framework) << c.dep;
    EXPECT_EQ(d.publish, c.publish) << c.dep;
    EXPECT_EQ(d.build_command, "npm run build") << c.dep;
  }
}

TEST(DetectBuild, MetaFrameworkBeatsVite) {
  EXPECT_EQ(Detect(R"({"dependencies":{"vite":"5","astro":"4"}})").framework, "astro");
  EXPECT_EQ(Detect(R"({"devDependencies":{"vite":"5","@sveltejs/kit":"2"}})").framework,
            "sveltekit");
}

TEST(DetectBuild, PackageManagerFromTheLockfile) {
  EXPECT_EQ(Detect("{}", true).install_command, "npm ci --no-audit --no-fund");
  EXPECT_EQ(Detect("{}", false).install_command, "npm install --no-audit --no-fund");
  EXPECT_EQ(Detect("{}", false, true).package_manager, "yarn");
  EXPECT_EQ(Detect("{}", false, false, true).package_manager, "pnpm");
  EXPECT_EQ(Detect(R"({"scripts":{"build":"x"}})", false, false, true).build_command,
            "corepack pnpm run build");
  EXPECT_EQ(Detect("{}").build_command, "") << "no build script, nothing to run";
}

TEST(DetectBuild, PlainHtmlAndHugo) {
  auto plain = DetectBuild(ProjectFiles{});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->framework, "static");
  EXPECT_EQ(plain->publish, ".");
  EXPECT_TRUE(plain->build_command.empty());
  ProjectFiles hugo;
  hugo.has_hugo_config = true;
  EXPECT_EQ(DetectBuild(hugo)->build_command, "hugo");
}

TEST(DetectBuild, BrokenPackageJsonIsAClearError) {
  ProjectFiles f;
  f.package_json = "{ not json";
  auto r = DetectBuild(f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("package.json"), std::string::npos);
}

}  // namespace
}  // namespace replideploy::builder

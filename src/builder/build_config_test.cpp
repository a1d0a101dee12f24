#include "builder/build_config.hpp"

#include <gtest/gtest.h>

namespace replideploy::builder {
namespace {

constexpr const char* kToml = R"(
[build]
  base = "site"
  command = "npm run build"
  publish = "dist"
  functions = "netlify/functions"
  [build.environment]
    NODE_VERSION = "20"
    MODE = "default"

[context.production]
  command = "npm run build:prod"
  [context.production.environment]
    MODE = "production"

[context.deploy-preview]
  publish = "preview-dist"

[context.branch-deploy.environment]
  MODE = "branch"

[context.staging]
  command = "npm run build:staging"
  [context.staging.environment]
    MODE = "staging"
    RETRIES = 3
    DEBUG = true
)";

TEST(ReadBuildConfig, BuildTableAlone) {
  auto c = ReadBuildConfig("[build]\ncommand = \"make\"\npublish = \"out\"\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->command, "make");
  EXPECT_EQ(c->publish, "out");
  EXPECT_FALSE(c->base.has_value());
  EXPECT_FALSE(c->functions.has_value());
}

TEST(ReadBuildConfig, ProductionContextOverridesBuild) {
  auto c = ReadBuildConfig(kToml, "production", "main");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->command, "npm run build:prod");
  EXPECT_EQ(c->publish, "dist");
  EXPECT_EQ(c->base, "site");
  EXPECT_EQ(c->functions, "netlify/functions");
  EXPECT_EQ(c->environment["MODE"], "production");
  EXPECT_EQ(c->environment["NODE_VERSION"], "20");
}

TEST(ReadBuildConfig, DeployPreviewAndBranchDeployContexts) {
  auto preview = ReadBuildConfig(kToml, "deploy-preview", "feature");
  ASSERT_TRUE(preview.ok());
  EXPECT_EQ(preview->command, "npm run build");
  EXPECT_EQ(preview->publish, "preview-dist");
  EXPECT_EQ(preview->environment["MODE"], "default");
  auto branch = ReadBuildConfig(kToml, "branch-deploy", "feature");
  ASSERT_TRUE(branch.ok());
  EXPECT_EQ(branch->environment["MODE"], "branch");
}

TEST(ReadBuildConfig, BranchContextIsMostSpecific) {
  auto c = ReadBuildConfig(kToml, "branch-deploy", "staging");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->command, "npm run build:staging");
  EXPECT_EQ(c->environment["MODE"], "staging");
  EXPECT_EQ(c->environment["RETRIES"], "3");
  EXPECT_EQ(c->environment["DEBUG"], "true");
}

TEST(ReadBuildConfig, FunctionsDirectoryTable) {
  auto c = ReadBuildConfig("[functions]\ndirectory = \"fns\"\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->functions, "fns");
}

TEST(ReadBuildConfig, FunctionSchedulesByName) {
  auto c = ReadBuildConfig(
      "[functions]\ndirectory = \"fns\"\n[functions.\"nightly\"]\nschedule = \"0 3 * * *\"\n"
      "[functions.other]\nnode_bundler = \"esbuild\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->function_schedules, (std::map<std::string, std::string>{{"nightly", "0 3 * * *"}}));
  auto bad = ReadBuildConfig("[functions.nightly]\nschedule = 5\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("functions.nightly.schedule must be a string"),
            std::string::npos)
      << bad.error().message;
}

TEST(ReadBuildConfig, ErrorsNameTheLineOrKey) {
  auto syntax = ReadBuildConfig("[build]\ncommand = \n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.error().message.find("netlify.toml:2"), std::string::npos)
      << syntax.error().message;
  auto type = ReadBuildConfig("[build]\ncommand = 3\n");
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(type.error().message, "netlify.toml: build.command must be a string");
  auto env = ReadBuildConfig("[context.production]\nenvironment = \"x\"\n");
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().message, "netlify.toml: context.production.environment must be a table");
  auto nested = ReadBuildConfig("[build.environment]\nX = [1, 2]\n");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().code, ErrorCode::kUnprocessable);
}

TEST(ReadBuildConfig, IncludedFiles) {
  auto config = ReadBuildConfig(R"(
[functions]
  included_files = ["data/**", "!data/secret.txt"]
[functions.report]
  included_files = ["reports/*.csv"]
[functions.other]
  schedule = "@daily"
)");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->included_files, (std::vector<std::string>{"data/**", "!data/secret.txt"}));
  EXPECT_EQ(config->function_included_files,
            (std::map<std::string, std::vector<std::string>>{{"report", {"reports/*.csv"}}}));
  auto bad = ReadBuildConfig("[functions]\nincluded_files = [1]\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("functions.included_files must be an array of strings"),
            std::string::npos);
}

}  // namespace
}  // namespace replideploy::builder

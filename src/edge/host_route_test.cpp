#include "edge/host_route.hpp"

#include <gtest/gtest.h>

namespace replideploy::edge {
namespace {

TEST(HostRoute, PublishedSite) {
  auto r = ParseHostRoute("blog.localhost", "localhost");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, HostRoute::Kind::kPublished);
  EXPECT_EQ(r->site_name, "blog");
}

TEST(HostRoute, DeployIdPreviewAndAlias) {
  auto id = ParseHostRoute("0123456789abcdef01234567--blog.sites.example.com", "sites.example.com");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->kind, HostRoute::Kind::kDeployId);
  EXPECT_EQ(id->deploy_id, "0123456789abcdef01234567");
  EXPECT_EQ(id->site_name, "blog");

  auto preview = ParseHostRoute("deploy-preview-42--blog.localhost", "localhost");
  ASSERT_TRUE(preview);
  EXPECT_EQ(preview->kind, HostRoute::Kind::kPreview);
  EXPECT_EQ(preview->preview_number, 42);

  auto alias = ParseHostRoute("feature-x--blog.localhost", "localhost");
  ASSERT_TRUE(alias);
  EXPECT_EQ(alias->kind, HostRoute::Kind::kAlias);
  EXPECT_EQ(alias->alias, "feature-x");
  EXPECT_EQ(alias->site_name, "blog");
}

TEST(HostRoute, NotOurs) {
  EXPECT_FALSE(ParseHostRoute("localhost", "localhost"));
  EXPECT_FALSE(ParseHostRoute("example.com", "localhost"));
  EXPECT_FALSE(ParseHostRoute("a.b.localhost", "localhost"));
  EXPECT_FALSE(ParseHostRoute("xlocalhost", "localhost"));
  EXPECT_FALSE(ParseHostRoute("--blog.localhost", "localhost"));
  EXPECT_FALSE(ParseHostRoute("x--.localhost", "localhost"));
  EXPECT_FALSE(ParseHostRoute("deploy-preview-x--blog.localhost", "localhost"));
  EXPECT_FALSE(ParseHostRoute("deploy-preview-0--blog.localhost", "localhost"));
}

}  // namespace
}  // namespace replideploy::edge

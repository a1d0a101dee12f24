#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "core/crypto.hpp"

namespace replideploy::core {
namespace {

TEST(Ids, UuidIsVersion4) {
  InitCrypto();
  const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewUuid();
    EXPECT_TRUE(std::regex_match(id, re)) << id;
  }
}

TEST(Ids, HexIdIs24LowercaseHex) {
  const std::string id = NewHexId();
  EXPECT_TRUE(std::regex_match(id, std::regex("^[0-9a-f]{24}$"))) << id;
  EXPECT_NE(NewHexId(), NewHexId());
}

TEST(Ids, ReadableNamesAreDnsLabelsAndVary) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string name = NewReadableName();
    EXPECT_TRUE(IsDnsLabel(name)) << name;
    EXPECT_EQ(name.find("--"), std::string::npos) << name;
    seen.insert(name);
  }
  EXPECT_GT(seen.size(), 190u);
}

TEST(Ids, DnsLabelRules) {
  EXPECT_TRUE(IsDnsLabel("a"));
  EXPECT_TRUE(IsDnsLabel("my-site-2"));
  EXPECT_TRUE(IsDnsLabel(std::string(63, 'a')));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_FALSE(IsDnsLabel(""));
  EXPECT_FALSE(IsDnsLabel("-a"));
  EXPECT_FALSE(IsDnsLabel("a-"));
  EXPECT_FALSE(IsDnsLabel("My-Site"));
  EXPECT_FALSE(IsDnsLabel("a.b"));
  EXPECT_FALSE(IsDnsLabel("a_b"));
  EXPECT_FALSE(IsDnsLabel("a b"));
}

}  // namespace
}  // namespace replideploy::core

#include "domains/hostname.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace replideploy::domains {
namespace {

TEST(DomainName, NormalisesCaseAndTrailingDot) {
  auto n = NormalizeDomainName("WWW.Example.COM.", "rd.test");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, "www.example.com");
  EXPECT_EQ(*NormalizeDomainName("xn--bcher-kva.example", "rd.test"), "xn--bcher-kva.example");
  EXPECT_EQ(*NormalizeDomainName(std::string(63, 'a') + ".com", "rd.test"),
            std::string(63, 'a') + ".com");
}

TEST(DomainName, RefusesWhatIsNotAHostName) {
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  long_name += "com";  // 308 characters
  for (const std::string& bad : std::vector<std::string>{"",
                                                         ".",
                                                         "com",
                                                         "localhost",
                                                         "example..com",
                                                         ".example.com",
                                                         "example.com..",
                                                         "-a.example.com",
                                                         "a-.example.com",
                                                         "a_b.example.com",
                                                         "exa mple.com",
                                                         "ex*.com",
                                                         "*.example.com",
                                                         "bücher.example",
                                                         std::string(64, 'a') + ".com",
                                                         long_name,
                                                         "1.2.3.4",
                                                         "10.0.0.1.",
                                                         "[::1]",
                                                         "::1",
                                                         "2001:db8::1",
                                                         "example.com/x",
                                                         "example.com:80",
                                                         std::string("a\0b.com", 7)}) {
    auto n = NormalizeDomainName(bad, "rd.test");
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_EQ(n.error().code, ErrorCode::kUnprocessable) << bad;
    EXPECT_EQ(n.error().detail_code, "invalid_domain") << bad;
  }
}

TEST(DomainName, RefusesThePlatformsOwnNames) {
  EXPECT_FALSE(NormalizeDomainName("rd.test", "rd.test").ok());
  EXPECT_FALSE(NormalizeDomainName("my-site.rd.test", "rd.test").ok());
  EXPECT_FALSE(NormalizeDomainName("a.b.RD.test.", "rd.test").ok());
  EXPECT_TRUE(NormalizeDomainName("xrd.test", "rd.test").ok());
  EXPECT_TRUE(NormalizeDomainName("rd.test.example", "rd.test").ok());
}

TEST(DomainName, ApexAndWwwPairs) {
  EXPECT_TRUE(IsApexDomain("example.com"));
  EXPECT_FALSE(IsApexDomain("www.example.com"));
  EXPECT_EQ(PairedDomainName("example.com"), "www.example.com");
  EXPECT_EQ(PairedDomainName("www.example.com"), "example.com");
  EXPECT_EQ(PairedDomainName("blog.example.com"), std::nullopt);
  EXPECT_EQ(PairedDomainName("www.blog.example.com"), std::nullopt);
}

}  // namespace
}  // namespace replideploy::domains

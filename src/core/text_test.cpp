#include "core/text.hpp"

#include <gtest/gtest.h>

namespace replideploy::core {
namespace {

TEST(Text, HexDigits) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  EXPECT_EQ(HexDigitValue('g'), -1);
  EXPECT_EQ(HexDigitValue('/'), -1);
  EXPECT_TRUE(IsHex("09afAF"));
  EXPECT_FALSE(IsHex("09ag"));
  EXPECT_TRUE(IsLowerHex("09af"));
  EXPECT_FALSE(IsLowerHex("09aF"));
  EXPECT_TRUE(IsCommitSha(std::string(40, 'a')));
  EXPECT_TRUE(IsCommitSha(std::string(64, '0')));
  EXPECT_FALSE(IsCommitSha(std::string(41, 'a')));
  EXPECT_FALSE(IsCommitSha(std::string(40, 'A')));
}

TEST(Text, CaseFoldsAsciiOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Type", "content-TYPE"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abd"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abcd"));
  EXPECT_FALSE(EqualsIgnoreCase("\xc3\x89", "\xc3\xa9")) << "no locale: É is not é";
  EXPECT_EQ(AsciiLower('Q'), 'q');
  EXPECT_EQ(AsciiLower('['), '[');
}

TEST(Text, PercentCoding) {
  EXPECT_EQ(UrlEncode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
  EXPECT_EQ(UrlEncode("\xff"), "%FF");
  EXPECT_EQ(PercentDecodeLenient("a%20b%2fc%zz%4"), "a b/c%zz%4");
  EXPECT_EQ(PercentDecodeLenient("a+b", true), "a b");
  EXPECT_EQ(PercentDecodeLenient("a+b"), "a+b");
  EXPECT_EQ(PercentDecodeStrict("a%20b"), "a b");
  EXPECT_EQ(PercentDecodeStrict("a%2"), std::nullopt);
  EXPECT_EQ(PercentDecodeStrict("a%g0"), std::nullopt);
  EXPECT_EQ(PercentDecodeStrict(UrlEncode("x/ y%")), "x/ y%");
  EXPECT_EQ(PercentEscapeAt("%41", 0), 0x41);
  EXPECT_EQ(PercentEscapeAt("x%41", 0), -1);
}

TEST(Text, HtmlEscapeCoversMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape(R"(<a href="x?a=1&b='2'">)"),
            "&lt;a href=&quot;x?a=1&amp;b=&#39;2&#39;&quot;&gt;");
  EXPECT_EQ(HtmlEscape("plain text"), "plain text");
}

}  // namespace
}  // namespace replideploy::core

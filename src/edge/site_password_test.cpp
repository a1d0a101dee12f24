#include "edge/site_password.hpp"

#include <gtest/gtest.h>

namespace replideploy::edge {
namespace {

constexpr std::string_view kHash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

TEST(SitePasswordCookie, OpensOnlyItsSiteUntilItExpiresAndOnlyForTheSamePassword) {
  const std::string cookie = SignSitePasswordCookie("site-a", kHash, 2000);
  EXPECT_TRUE(VerifySitePasswordCookie(cookie, "site-a", kHash, 1999));
  EXPECT_FALSE(VerifySitePasswordCookie(cookie, "site-a", kHash, 2000));  // expired
  EXPECT_FALSE(VerifySitePasswordCookie(cookie, "site-b", kHash, 1000));  // another site
  // A new password (a new hash) ends the cookies made for the old one.
  EXPECT_FALSE(VerifySitePasswordCookie(cookie, "site-a", std::string(kHash) + "x", 1000));
  EXPECT_FALSE(VerifySitePasswordCookie(cookie, "site-a", "", 1000));
}

TEST(SitePasswordCookie, RefusesTamperedAndMalformedValues) {
  const std::string cookie = SignSitePasswordCookie("site-a", kHash, 2000);
  // A later expiry with the old MAC.
  std::string later = "9000" + cookie.substr(cookie.find('.'));
  EXPECT_FALSE(VerifySitePasswordCookie(later, "site-a", kHash, 1000));
  std::string flipped = cookie;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(VerifySitePasswordCookie(flipped, "site-a", kHash, 1000));
  for (std::string_view bad : {"", ".", "2000", "2000.", ".abcd", "-5.abcd", "2000x.abcd",
                               "99999999999999999999999.abcd"}) {
    EXPECT_FALSE(VerifySitePasswordCookie(bad, "site-a", kHash, 1000)) << bad;
  }
}

TEST(SitePasswordCookie, SetCookieIsHttpOnlyAndSameSite) {
  const std::string header = SitePasswordSetCookie("2000.ab", 60);
  EXPECT_EQ(header, "rd_site_password=2000.ab; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
}

TEST(SitePasswordPage, EscapesTheHostAndTheReturnPath) {
  const std::string page = SitePasswordPage("a.example", "/x?\"><script>alert(1)</script>", true);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("value=\"/x?&quot;&gt;&lt;script&gt;"), std::string::npos);
  EXPECT_NE(page.find("action=\"/.netlify/site-password\""), std::string::npos);
  EXPECT_NE(page.find("Wrong password"), std::string::npos);
  EXPECT_EQ(SitePasswordPage("a.example", "/", false).find("Wrong password"), std::string::npos);
}

TEST(SitePasswordReturn, OnlyPathsOnThisHost) {
  EXPECT_EQ(SafeReturnPath("/docs/a?b=1"), "/docs/a?b=1");
  EXPECT_EQ(SafeReturnPath("/"), "/");
  for (std::string_view bad : {"", "//evil.example", "/\\evil.example", "https://evil.example",
                               "/\t/evil.example", "evil", "/a b", "/a\\b"}) {
    EXPECT_EQ(SafeReturnPath(bad), "/") << bad;
  }
}

TEST(SitePasswordForm, FieldsAreDecoded) {
  const std::string body = "return_to=%2Fa%3Fb%3D1&password=p%40ss+word&x";
  EXPECT_EQ(FormField(body, "password"), "p@ss word");
  EXPECT_EQ(FormField(body, "return_to"), "/a?b=1");
  EXPECT_EQ(FormField(body, "x"), "");
  EXPECT_EQ(FormField(body, "missing"), std::nullopt);
  EXPECT_EQ(FormField("", "password"), std::nullopt);
}

TEST(SitePasswordForm, BrowsersAreToldByAccept) {
  http::Request r;
  r.method = "GET";
  r.headers.Set("Accept", "text/html,application/xhtml+xml;q=0.9");
  EXPECT_TRUE(WantsHtml(r));
  r.headers.Set("Accept", "*/*");
  EXPECT_FALSE(WantsHtml(r));
  r.headers.Set("Accept", "text/html");
  r.method = "DELETE";
  EXPECT_FALSE(WantsHtml(r));
}

}  // namespace
}  // namespace replideploy::edge

#include "http/client_address.hpp"

#include <gtest/gtest.h>

namespace replideploy::http {
namespace {

std::vector<core::Cidr> Trusted(std::string_view list) { return ParseCidrList(list, "t").value(); }

Request From(std::string peer, std::vector<std::pair<std::string, std::string>> headers = {}) {
  Request r;
  r.remote_address = std::move(peer);
  for (auto& [name, value] : headers) r.headers.Add(name, value);
  return r;
}

TEST(ClientAddress, HeadersAreIgnoredWithoutTrustedProxies) {
  EXPECT_EQ(ClientAddress(From("203.0.113.9", {{"X-Forwarded-For", "1.2.3.4"}}), {}),
            "203.0.113.9");
  EXPECT_EQ(ClientAddress(From("::ffff:127.0.0.1"), {}), "127.0.0.1");
}

TEST(ClientAddress, HeadersAreIgnoredFromAnUntrustedPeer) {
  const auto trusted = Trusted("10.0.0.0/8");
  EXPECT_EQ(ClientAddress(From("203.0.113.9", {{"X-Forwarded-For", "1.2.3.4"}}), trusted),
            "203.0.113.9");
  EXPECT_EQ(ClientAddress(From("203.0.113.9", {{"Forwarded", "for=1.2.3.4"}}), trusted),
            "203.0.113.9");
}

TEST(ClientAddress, RightMostUntrustedAddressOfXForwardedFor) {
  const auto trusted = Trusted("10.0.0.0/8, ::1");
  // The client wrote "6.6.6.6" itself; the proxy appended the address it saw.
  EXPECT_EQ(
      ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", "6.6.6.6, 198.51.100.7"}}), trusted),
      "198.51.100.7");
  // Two proxies of ours.
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", "6.6.6.6, 198.51.100.7"},
                                            {"X-Forwarded-For", "10.1.1.1"}}),
                          trusted),
            "198.51.100.7");
  EXPECT_EQ(ClientAddress(From("::1", {{"X-Forwarded-For", "[2001:db8::7]:4711"}}), trusted),
            "2001:db8::7");
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", "198.51.100.7:50000"}}), trusted),
            "198.51.100.7");
}

TEST(ClientAddress, ForwardedIsReadWhenThereIsNoXForwardedFor) {
  const auto trusted = Trusted("10.0.0.0/8");
  EXPECT_EQ(
      ClientAddress(
          From("10.0.0.2", {{"Forwarded", "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https"}}),
          trusted),
      "2001:db8::1");
  EXPECT_EQ(
      ClientAddress(From("10.0.0.2", {{"Forwarded", "FOR=198.51.100.7;by=10.0.0.2"}}), trusted),
      "198.51.100.7");
}

TEST(ClientAddress, GarbageNextToATrustedHopYieldsThatHop) {
  const auto trusted = Trusted("10.0.0.0/8");
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", "1.2.3.4, unknown"}}), trusted),
            "10.0.0.2");
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", "1.2.3.4, nonsense, 10.0.0.3"}}),
                          trusted),
            "10.0.0.3");
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"Forwarded", "for=_hidden"}}), trusted), "10.0.0.2");
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", ""}}), trusted), "10.0.0.2");
  // Every hop trusted: the left-most one.
  EXPECT_EQ(ClientAddress(From("10.0.0.2", {{"X-Forwarded-For", "10.0.0.9, 10.0.0.8"}}), trusted),
            "10.0.0.9");
}

TEST(ClientAddress, CidrListErrorsNameTheSetting) {
  auto bad = ParseCidrList("10.0.0.0/8, nope", "trusted-proxies");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("trusted-proxies"), std::string::npos);
  EXPECT_EQ(Trusted(" ").size(), 0u);
}

}  // namespace
}  // namespace replideploy::http

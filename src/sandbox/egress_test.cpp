#include "sandbox/egress.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/nsfs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/subprocess.hpp"
#include "core/testing.hpp"
#include "sandbox/egress_testing.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {
namespace {

namespace fs = std::filesystem;
using namespace testing;  // NOLINT(google-build-using-namespace): the lab
using SteadyClock = std::chrono::steady_clock;

Cidr Parse(std::string_view text) {
  auto cidr = ParseCidr(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << (cidr.ok() ? "" : cidr.error().message);
  return cidr.ok() ? *cidr : Cidr{};
}

// Index of the first line of `text` that contains every one of `parts`, or -1.
int LineWith(const std::string& text, std::initializer_list<std::string_view> parts,
             std::string* line_out = nullptr) {
  std::istringstream lines(text);
  std::string line;
  for (int index = 0; std::getline(lines, line); ++index) {
    const bool all = std::all_of(parts.begin(), parts.end(), [&](std::string_view part) {
      return line.find(part) != std::string::npos;
    });
    if (all) {
      if (line_out) *line_out = line;
      return index;
    }
  }
  return -1;
}

constexpr std::string_view kPrivateComment = "private, loopback, link-local, reserved";
constexpr std::string_view kHostComment = "the host's own addresses";
constexpr std::string_view kAllowedComment = "allowed by the operator";
constexpr std::string_view kDeniedComment = "denied by the operator";

// --- Pure ------------------------------------------------------------------------------------

TEST(Egress, ParseCidrReadsAddressesAndNetworks) {
  const Cidr private_net = Parse("10.0.0.0/8");
  EXPECT_EQ(private_net.family, IpFamily::kV4);
  EXPECT_EQ(private_net.prefix_length, 8);
  EXPECT_EQ(private_net.bytes[0], 10);
  EXPECT_EQ(Parse("192.0.2.7").prefix_length, 32);
  const Cidr unique_local = Parse("fc00::/7");
  EXPECT_EQ(unique_local.family, IpFamily::kV6);
  EXPECT_EQ(unique_local.prefix_length, 7);
  EXPECT_EQ(unique_local.bytes[0], 0xfc);
  EXPECT_EQ(Parse("::1").prefix_length, 128);
  EXPECT_EQ(Parse("0.0.0.0/0").prefix_length, 0);

  EXPECT_EQ(FormatCidr(Parse("10.0.0.0/8")), "10.0.0.0/8");
  EXPECT_EQ(FormatCidr(Parse("192.0.2.7")), "192.0.2.7/32");
  EXPECT_EQ(FormatCidr(Parse("fc00::/7")), "fc00::/7");
  EXPECT_EQ(FormatCidr(Parse("::ffff:0:0/96")), "::ffff:0.0.0.0/96");
  EXPECT_EQ(Parse(FormatCidr(Parse("2001:db8::1"))), Parse("2001:db8::1/128"));
}

TEST(Egress, ParseCidrRejectsMalformedInputWithAClearMessage) {
  const std::string too_long(100, '1');
  for (const std::string_view text :
       {std::string_view(""), std::string_view("10.0.0.0/"), std::string_view("10.0.0.0/33"),
        std::string_view("fc00::/129"), std::string_view("10.0.0.1/8"),
        std::string_view("example.com"), std::string_view(" 10.0.0.0/8"),
        std::string_view("10.0.0.0/8 "), std::string_view("10.0.0.0/-1"),
        std::string_view("10.0.0.0/+8"), std::string_view("10.0.0"), std::string_view("1.2.3.4.5"),
        std::string_view("256.0.0.1"), std::string_view("::1/1x"), std::string_view("/8"),
        std::string_view("10.0.0.0/8/8"), std::string_view("fe80::1%eth0"),
        std::string_view("10.0.0.0/1000"), std::string_view(too_long)}) {
    const auto cidr = ParseCidr(text);
    ASSERT_FALSE(cidr.ok()) << "\"" << text << "\" was accepted";
    EXPECT_EQ(cidr.error().code, ErrorCode::kUnprocessable) << text;
    EXPECT_NE(cidr.error().message.find("not an IP network"), std::string::npos)
        << cidr.error().message;
  }
  EXPECT_NE(ParseCidr("10.0.0.1/8").error().message.find("did you mean 10.0.0.0/8"),
            std::string::npos);
  EXPECT_NE(ParseCidr("10.0.0.0/33").error().message.find("from 0 to 32"), std::string::npos);
}

TEST(Egress, ParseNetworkModeKnowsPublicAndNone) {
  EXPECT_EQ(*ParseNetworkMode("public"), NetworkMode::kPublic);
  EXPECT_EQ(*ParseNetworkMode("none"), NetworkMode::kNone);
  const auto bad = ParseNetworkMode("private");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kUnprocessable);
  EXPECT_NE(bad.error().message.find("\"private\""), std::string::npos);
}

TEST(Egress, AlwaysDeniedRangesCoverLoopbackPrivateLinkLocalAndReserved) {
  const std::vector<Cidr> ranges = AlwaysDeniedRanges();
  EXPECT_EQ(ranges.size(), 17U);
  for (const char* expected :
       {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
        "240.0.0.0/4", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "::ffff:0:0/96"}) {
    EXPECT_NE(std::find(ranges.begin(), ranges.end(), Parse(expected)), ranges.end()) << expected;
  }
}

TEST(Egress, RulesetRejectsEveryAlwaysDeniedRange) {
  const std::string ruleset = NftRuleset(EgressPolicy{}, {});
  for (const Cidr& range : AlwaysDeniedRanges()) {
    std::string line;
    const char* match = range.family == IpFamily::kV4 ? "    ip daddr {" : "    ip6 daddr {";
    ASSERT_GE(LineWith(ruleset, {match, kPrivateComment}, &line), 0) << ruleset;
    const std::string element = " " + FormatCidr(range);
    EXPECT_TRUE(line.find(element + ",") != std::string::npos ||
                line.find(element + " }") != std::string::npos)
        << element << " missing from " << line;
    EXPECT_NE(line.find("} goto refuse"), std::string::npos) << line;
  }
}

TEST(Egress, RulesetLetsOperatorAllowedRangesThroughBeforeAnyDenial) {
  EgressPolicy policy;
  policy.allowed = {Parse("10.50.0.0/16")};
  policy.denied = {Parse("203.0.113.0/24"), Parse("10.50.0.0/24")};
  const std::string ruleset = NftRuleset(policy, {});
  std::string allowed_line;
  const int allowed = LineWith(ruleset, {"ip daddr", kAllowedComment}, &allowed_line);
  ASSERT_GE(allowed, 0) << ruleset;
  EXPECT_NE(allowed_line.find("{ 10.50.0.0/16 } accept"), std::string::npos) << allowed_line;
  std::string denied_line;
  const int denied = LineWith(ruleset, {"ip daddr", kDeniedComment}, &denied_line);
  EXPECT_NE(denied_line.find("203.0.113.0/24"), std::string::npos) << denied_line;
  EXPECT_NE(denied_line.find("} goto refuse"), std::string::npos) << denied_line;
  const int private_ranges = LineWith(ruleset, {"ip daddr", kPrivateComment});
  EXPECT_LT(allowed, private_ranges);
  EXPECT_LT(allowed, denied);
  // Without an allowed entry there is no accept rule for it.
  EXPECT_EQ(LineWith(NftRuleset(EgressPolicy{}, {}), {kAllowedComment}), -1);
}

TEST(Egress, RulesetClosesTheHostsOwnAddressesUnlessAllowedExactly) {
  const std::vector<Cidr> host = {Parse("192.0.2.2"), Parse("10.99.0.1"), Parse("fd00::2")};
  EgressPolicy wide;
  wide.allowed = {Parse("10.99.0.0/16")};
  const std::string ruleset = NftRuleset(wide, host);
  std::string host_line;
  const int host_rule = LineWith(ruleset, {"ip daddr", kHostComment}, &host_line);
  ASSERT_GE(host_rule, 0) << ruleset;
  EXPECT_NE(host_line.find("192.0.2.2/32"), std::string::npos) << host_line;
  EXPECT_NE(host_line.find("10.99.0.1/32"), std::string::npos) << host_line;
  EXPECT_NE(host_line.find("} goto refuse"), std::string::npos) << host_line;
  EXPECT_LT(host_rule, LineWith(ruleset, {kAllowedComment}));
  EXPECT_GE(LineWith(ruleset, {"ip6 daddr { fd00::2/128 } goto refuse", kHostComment}), 0)
      << ruleset;

  EgressPolicy exact;
  exact.allowed = {Parse("10.99.0.1/32")};
  const std::string opened = NftRuleset(exact, host);
  ASSERT_GE(LineWith(opened, {"ip daddr", kHostComment}, &host_line), 0) << opened;
  EXPECT_EQ(host_line.find("10.99.0.1"), std::string::npos) << host_line;
  EXPECT_NE(host_line.find("192.0.2.2/32"), std::string::npos) << host_line;
  EXPECT_GE(LineWith(opened, {"{ 10.99.0.1/32 } accept", kAllowedComment}), 0) << opened;
}

TEST(Egress, RulesetAcceptsDnsOnlyToTheSlirpForwarderBeforeDenials) {
  const std::string ruleset = NftRuleset(EgressPolicy{}, {Parse("10.0.2.100")});
  const int loopback = LineWith(ruleset, {"oif \"lo\" accept"});
  const int udp = LineWith(ruleset, {"ip daddr 10.0.2.3 udp dport 53 accept"});
  const int tcp = LineWith(ruleset, {"ip daddr 10.0.2.3 tcp dport 53 accept"});
  ASSERT_GE(loopback, 0) << ruleset;
  ASSERT_GE(udp, 0) << ruleset;
  ASSERT_GE(tcp, 0) << ruleset;
  EXPECT_LT(loopback, udp);
  EXPECT_LT(udp, LineWith(ruleset, {kHostComment}));
  EXPECT_LT(tcp, LineWith(ruleset, {"ip daddr", kPrivateComment}));
  // The rest of slirp4netns's network stays closed even when the operator allows 10/8.
  EgressPolicy wide;
  wide.allowed = {Parse("10.0.0.0/8")};
  const std::string opened = NftRuleset(wide, {});
  const int slirp_network = LineWith(opened, {"ip daddr 10.0.2.0/24 goto refuse"});
  ASSERT_GE(slirp_network, 0) << opened;
  EXPECT_LT(LineWith(opened, {"10.0.2.3 tcp dport 53 accept"}), slirp_network);
  EXPECT_LT(slirp_network, LineWith(opened, {kAllowedComment}));
  EXPECT_EQ(SandboxResolvConf(), "nameserver 10.0.2.3\n");
}

TEST(Egress, RulesetRefusesIpv6AndForwardingAndDropsByDefault) {
  const std::string ruleset = NftRuleset(EgressPolicy{}, {});
  const int v6 = LineWith(ruleset, {"meta nfproto ipv6 goto refuse"});
  const int v4 = LineWith(ruleset, {"meta nfproto ipv4 accept"});
  ASSERT_GE(v6, 0) << ruleset;
  EXPECT_LT(LineWith(ruleset, {"ip daddr", kPrivateComment}), v4);
  EXPECT_LT(v6, v4);
  EXPECT_GE(LineWith(ruleset, {"hook output", "policy drop"}), 0) << ruleset;
  EXPECT_GE(LineWith(ruleset, {"hook forward", "policy drop"}), 0) << ruleset;
  // Refused TCP connections fail at once.
  EXPECT_GE(LineWith(ruleset, {"meta l4proto tcp reject with tcp reset"}), 0) << ruleset;
}

TEST(Egress, ValidateRefusesIpv6AllowedEntries) {
  EgressPolicy policy;
  policy.allowed = {Parse("10.1.0.0/16")};
  policy.denied = {Parse("2001:db8::/32")};
  EXPECT_TRUE(ValidateEgressPolicy(policy).ok());
  policy.allowed.push_back(Parse("fd00::/8"));
  const Status status = ValidateEgressPolicy(policy);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnprocessable);
  EXPECT_NE(status.error().message.find("fd00::/8"), std::string::npos);
}

TEST(Egress, HostAddressesIncludeLoopback) {
  auto addresses = HostAddresses();
  ASSERT_TRUE(addresses.ok()) << addresses.error().message;
  EXPECT_NE(std::find(addresses->begin(), addresses->end(), Parse("127.0.0.1")), addresses->end());
}

TEST(Egress, NetworkModeNoneMakesNoNetwork) {
  EgressPolicy policy;
  policy.mode = NetworkMode::kNone;
  const auto link = SandboxNetwork::Create(policy);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.error().code, ErrorCode::kUnprocessable);
}

}  // namespace
}  // namespace replideploy::sandbox

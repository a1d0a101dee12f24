// The pure half of sandbox/egress.hpp: addresses, the policy and the nftables ruleset.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "sandbox/egress.hpp"

namespace replideploy::sandbox {

namespace {

constexpr std::string_view kSlirpDns = "10.0.2.3";
// slirp4netns's virtual network: its gateway leads to the host's loopback and its DNS address
// to the host's resolver on any port, so no allowed range may open it.
constexpr std::string_view kSlirpNetwork = "10.0.2.0/24";
constexpr std::string_view kTableName = "replideploy_egress";
// Refused packets go to this chain. A TCP reset makes connect() fail at once with
// ECONNREFUSED; an ICMP error only after the first SYN's retransmission timeout (about 1 s).
constexpr std::string_view kRefuse = "goto refuse";

// --- The ruleset -----------------------------------------------------------------------------

// "ip daddr { 10.0.0.0/8, 172.16.0.0/12 } <verdict> comment "<why>"" for the cidrs of
// `family`; nothing when there are none (nft has no empty anonymous set).
void AddDaddrRule(std::string& text, IpFamily family, const std::vector<Cidr>& cidrs,
                  std::string_view verdict, std::string_view why) {
  std::string elements;
  for (const Cidr& cidr : cidrs) {
    if (cidr.family != family) continue;
    if (!elements.empty()) elements += ", ";
    elements += FormatCidr(cidr);
  }
  if (elements.empty()) return;
  text += "    ";
  text += family == IpFamily::kV4 ? "ip" : "ip6";
  text += " daddr { " + elements + " } ";
  text += verdict;
  text += " comment \"";
  text += why;
  text += "\"\n";
}

}  // namespace

Result<NetworkMode> ParseNetworkMode(std::string_view text) {
  if (text == "public") return NetworkMode::kPublic;
  if (text == "none") return NetworkMode::kNone;
  return Unprocessable("invalid_network_mode",
                       "the build network must be \"public\" or \"none\", not \"" +
                           std::string(text.substr(0, 64)) + "\"");
}

Status ValidateEgressPolicy(const EgressPolicy& policy) {
  for (const Cidr& cidr : policy.allowed) {
    if (cidr.family == IpFamily::kV6) {
      return Unprocessable("ipv6_egress", "builds have no IPv6 egress, so allowing " +
                                              FormatCidr(cidr) + " would have no effect");
    }
  }
  return {};
}

std::vector<Cidr> AlwaysDeniedRanges() {
  static constexpr std::string_view kRanges[] = {
      "0.0.0.0/8",       // "this network"
      "10.0.0.0/8",      // private
      "100.64.0.0/10",   // shared address space (carrier-grade NAT)
      "127.0.0.0/8",     // loopback
      "169.254.0.0/16",  // link-local, cloud metadata
      "172.16.0.0/12",   // private
      "192.0.0.0/24",    // IETF protocol assignments
      "192.168.0.0/16",  // private
      "198.18.0.0/15",   // benchmarking
      "224.0.0.0/4",     // multicast
      "240.0.0.0/4",     // reserved, and broadcast 255.255.255.255
      "::/128",          // unspecified
      "::1/128",         // loopback
      "::ffff:0:0/96",   // IPv4-mapped
      "fc00::/7",        // unique local
      "fe80::/10",       // link-local
      "ff00::/8",        // multicast
  };
  std::vector<Cidr> ranges;
  for (const std::string_view text : kRanges) {
    auto cidr = ParseCidr(text);
    if (cidr.ok()) ranges.push_back(*cidr);
  }
  return ranges;
}

Result<std::vector<Cidr>> HostAddresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0)
    return MakeError(
        ErrorCode::kInternal,
        std::string("listing the host's addresses (getifaddrs): ") + std::strerror(errno));
  std::vector<Cidr> addresses;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    Cidr cidr;
    if (entry->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      cidr.family = IpFamily::kV4;
      cidr.prefix_length = 32;
      std::memcpy(cidr.bytes.data(), &in->sin_addr, 4);
    } else if (entry->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      cidr.family = IpFamily::kV6;
      cidr.prefix_length = 128;
      std::memcpy(cidr.bytes.data(), &in6->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), cidr) == addresses.end()) {
      addresses.push_back(cidr);
    }
  }
  freeifaddrs(list);
  return addresses;
}

std::string NftRuleset(const EgressPolicy& policy, const std::vector<Cidr>& host_addresses) {
  // A host address is open only when `allowed` names exactly it: a wide allowed range (a
  // private mirror's subnet) must not open the host's own services along with it.
  std::vector<Cidr> closed_host_addresses;
  for (const Cidr& host : host_addresses) {
    const Cidr address = core::MaskCidr(host);
    const bool named = std::any_of(
        policy.allowed.begin(), policy.allowed.end(),
        [&](const Cidr& a) { return core::IsSingleAddress(a) && core::MaskCidr(a) == address; });
    if (!named) closed_host_addresses.push_back(address);
  }
  std::vector<Cidr> allowed;
  for (const Cidr& cidr : policy.allowed) allowed.push_back(core::MaskCidr(cidr));
  std::vector<Cidr> denied;
  for (const Cidr& cidr : policy.denied) denied.push_back(core::MaskCidr(cidr));
  const std::vector<Cidr> always_denied = AlwaysDeniedRanges();

  std::string text = "table inet " + std::string(kTableName) + " {\n";
  text += "  chain sandbox_output {\n";
  text += "    type filter hook output priority filter; policy drop;\n";
  text += "    oif \"lo\" accept comment \"the sandbox's own loopback\"\n";
  for (const char* protocol : {"udp", "tcp"}) {
    text += "    ip daddr " + std::string(kSlirpDns) + " " + protocol +
            " dport 53 accept comment \"DNS through slirp4netns\"\n";
  }
  text += "    ip daddr " + std::string(kSlirpNetwork) + " " + std::string(kRefuse) +
          " comment \"slirp4netns's own network\"\n";
  for (const IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    AddDaddrRule(text, family, closed_host_addresses, kRefuse, "the host's own addresses");
  }
  AddDaddrRule(text, IpFamily::kV4, allowed, "accept", "allowed by the operator");
  for (const IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    AddDaddrRule(text, family, always_denied, kRefuse, "private, loopback, link-local, reserved");
    AddDaddrRule(text, family, denied, kRefuse, "denied by the operator");
  }
  text += "    meta nfproto ipv6 " + std::string(kRefuse) + " comment \"no IPv6 egress\"\n";
  text += "    meta nfproto ipv4 accept comment \"the public internet\"\n";
  text += "  }\n";
  text += "  chain refuse {\n";
  text += "    meta l4proto tcp reject with tcp reset\n";
  text += "    reject with icmpx admin-prohibited\n";
  text += "  }\n";
  text += "  chain sandbox_forward {\n";
  text += "    type filter hook forward priority filter; policy drop;\n";
  text += "  }\n";
  text += "}\n";
  return text;
}

std::string_view SandboxResolvConf() { return "nameserver 10.0.2.3\n"; }

}  // namespace replideploy::sandbox

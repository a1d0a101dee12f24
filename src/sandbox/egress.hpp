// Public-only network egress for a build sandbox.
//
// A SandboxNetwork is a network namespace made for one sandbox, with a route out through
// slirp4netns (user-mode TCP/IP: the sandbox's packets become ordinary sockets of the slirp4netns
// process on the host) and, before the route exists, an nftables ruleset in that namespace that
// lets through only what the public internet is:
//
//   - the sandbox's own loopback, and DNS to slirp4netns's forwarder (10.0.2.3, port 53);
//   - never the rest of slirp4netns's network 10.0.2.0/24 (its gateway is the host's loopback,
//     which slirp4netns's --disable-host-loopback closes as well);
//   - never the host's own addresses (every address of every interface, read when attaching),
//     unless `allowed` names that exact address (/32, /128): a wider allowed range does not
//     open the host;
//   - then `allowed` (accept), then AlwaysDeniedRanges() and `denied` (refuse);
//   - no IPv6 at all: slirp4netns runs without IPv6 and the ruleset refuses every IPv6 packet
//     that is not on the sandbox's loopback, so IPv6 entries in `allowed` cannot take effect
//     (ValidateEgressPolicy refuses them);
//   - any other IPv4 destination: accepted. No forwarding.
//
// A refused TCP connection gets a reset (connect() fails at once with ECONNREFUSED), anything
// else an ICMP "administratively prohibited". Filtering is by destination address after name
// resolution, so a name that resolves to a private address (DNS rebinding, an /etc/hosts
// entry) is refused like the address itself. The sandbox cannot change the rules or the
// interfaces: the namespace belongs to the server's user namespace, and the sandbox's
// processes hold capabilities (if any) only in a user namespace of their own below it.
//
// The network is made before the sandbox starts (the build never runs without its rules), and
// it can be made ahead of need, off the build's critical path: the runner keeps a spare one.
//
// Not covered: an address of the host that is on no interface (the public address of a host
// behind NAT, which may lead back to the host's own services): put it in `denied`.
//
// Everything here except SandboxNetwork and HostAddresses is pure and thread-safe.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"

namespace replideploy::sandbox {

// Networks are core's (core/net.hpp); the names stay here for the sandbox's callers.
using core::Cidr;
using core::FormatCidr;
using core::IpFamily;
using core::ParseCidr;

enum class NetworkMode {
  kPublic,  // the public internet through a SandboxNetwork
  kNone,    // bwrap's --unshare-net alone: only the sandbox's loopback, no SandboxNetwork
};
// "public" | "none"; kUnprocessable otherwise.
Result<NetworkMode> ParseNetworkMode(std::string_view text);

struct EgressPolicy {
  NetworkMode mode = NetworkMode::kPublic;
  // Reachable although in a denied range (e.g. a private registry mirror); beats `denied` and
  // AlwaysDeniedRanges(). IPv4 only.
  std::vector<Cidr> allowed;
  // Unreachable although public (e.g. the host's NAT address, which is on no interface).
  std::vector<Cidr> denied;
};

// kUnprocessable when `policy` asks for something the link cannot do (an IPv6 allowed entry).
Status ValidateEgressPolicy(const EgressPolicy& policy);

// Loopback, "this network", RFC 1918, shared address space (CGNAT), link-local (cloud metadata
// at 169.254.169.254), IETF protocol assignments, benchmarking, multicast, reserved and
// broadcast; for IPv6 loopback, unspecified, unique-local, link-local, multicast and the
// v4-mapped block.
std::vector<Cidr> AlwaysDeniedRanges();

// Every address of every interface of the calling thread's network namespace, as /32 and /128.
// kInternal when getifaddrs fails.
Result<std::vector<Cidr>> HostAddresses();

// The ruleset text for `nft -f -` in the sandbox's (fresh) network namespace. Pure.
std::string NftRuleset(const EgressPolicy& policy, const std::vector<Cidr>& host_addresses);

// The sandbox's /etc/resolv.conf: slirp4netns's DNS forwarder (the host's own resolver is
// usually a private or loopback address the sandbox must not reach directly).
std::string_view SandboxResolvConf();

struct EgressOptions {
  std::string slirp4netns_path = "/usr/bin/slirp4netns";
  std::string nft_path = "/usr/sbin/nft";
  // For loading the ruleset, and again for slirp4netns to report it has configured the
  // namespace.
  std::chrono::milliseconds ready_timeout{10000};
};

// A network namespace for one sandbox and its way out. Owns the namespace (a descriptor) and
// one slirp4netns process; destroying it stops and reaps slirp4netns (a sandbox still inside
// then has only its loopback: it fails closed). Use each for one sandbox only.
//
// slirp4netns and nft run as root, with no descriptor of ours but their own, dying with the
// server (PR_SET_PDEATHSIG and slirp4netns's --exit-fd). slirp4netns runs with
// --disable-host-loopback, --enable-sandbox and --enable-seccomp. PR_SET_PDEATHSIG follows the
// thread that forked: the thread that calls Create must outlive the network, or it loses its
// link (it fails closed). Thread-safe: independent networks may be made and destroyed
// concurrently.
class SandboxNetwork {
 public:
  // Makes a new network namespace (from a short-lived thread of ours, so it belongs to the
  // server's user namespace), brings its loopback up, loads NftRuleset (for HostAddresses() of
  // the calling thread's namespace) into it and starts slirp4netns on it, waiting for both. The
  // sandbox joins it with setns(netns_fd(), CLONE_NEWNET) before it drops privileges; its
  // /etc/resolv.conf should be SandboxResolvConf().
  //
  // Errors, after which nothing of it is left running:
  //   kUnprocessable  policy.mode is kNone (make nothing instead), or ValidateEgressPolicy;
  //   kUnavailable    not root, or slirp4netns/nft missing (the message names the path);
  //   kInternal       no namespace could be made, or nft or slirp4netns failed or timed out
  //                   (with their output).
  static Result<std::unique_ptr<SandboxNetwork>> Create(const EgressPolicy& policy,
                                                        const EgressOptions& options = {});

  SandboxNetwork(const SandboxNetwork&) = delete;
  SandboxNetwork& operator=(const SandboxNetwork&) = delete;
  // Kills and reaps slirp4netns, and lets go of the namespace.
  ~SandboxNetwork();

  // The namespace, for setns. Close-on-exec; stays valid while this object lives.
  int netns_fd() const { return netns_fd_; }
  // Whether the rules were made for exactly these host addresses (HostAddresses() now): a
  // network made ahead is only used while the host's addresses have not changed since.
  bool MadeFor(const std::vector<Cidr>& host_addresses) const {
    return host_addresses == host_addresses_;
  }

  // False once its slirp4netns exited (killed, crashed, or the thread that made it ended):
  // the namespace then has no way out, and a spare in that state is not handed out.
  bool Alive() const;

  pid_t SlirpPidForTest() const { return slirp_pid_; }

 private:
  SandboxNetwork(int netns_fd, std::vector<Cidr> host_addresses, pid_t slirp_pid, int slirp_pidfd,
                 int exit_fd)
      : netns_fd_(netns_fd),
        host_addresses_(std::move(host_addresses)),
        slirp_pid_(slirp_pid),
        slirp_pidfd_(slirp_pidfd),
        exit_fd_(exit_fd) {}

  int netns_fd_;
  std::vector<Cidr> host_addresses_;
  pid_t slirp_pid_;
  int slirp_pidfd_;
  int exit_fd_;  // write end of slirp4netns's --exit-fd
};

}  // namespace replideploy::sandbox

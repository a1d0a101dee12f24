// Public-only network egress for a build sandbox.
//
// A sandbox made with `bwrap --unshare-user --unshare-net` has only its own loopback. An
// EgressLink gives that network namespace a route out through slirp4netns (user-mode TCP/IP:
// the sandbox's packets become ordinary sockets of the slirp4netns process on the host) and,
// before the route exists, loads an nftables ruleset into the sandbox's namespace that lets
// through only what the public internet is:
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
// entry) is refused like the address itself. The sandbox cannot change the rules: its
// processes hold no capabilities in the namespace's user namespace.
//
// Not covered: an address of the host that is on no interface (the public address of a host
// behind NAT, which may lead back to the host's own services): put it in `denied`.
//
// Everything here except EgressLink and HostAddresses is pure and thread-safe.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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
  kPublic,  // the public internet through an EgressLink
  kNone,    // bwrap's --unshare-net alone: only the sandbox's loopback, no EgressLink
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

// The sandbox's way out. Owns one slirp4netns process; destroying the link stops and reaps it
// (the sandbox then has only its loopback again).
//
// slirp4netns and nft run as root (joining a namespace owned by another user namespace needs
// CAP_SYS_ADMIN in ours), with no descriptor of ours but their own, dying with the server
// (PR_SET_PDEATHSIG and slirp4netns's --exit-fd). slirp4netns runs with --disable-host-loopback,
// --enable-sandbox and --enable-seccomp. PR_SET_PDEATHSIG follows the thread that forked: the
// thread that calls Attach must outlive the link, or the sandbox loses its network (it fails
// closed). Thread-safe: independent links may be attached and destroyed concurrently.
class EgressLink {
 public:
  // Attaches to the network namespace of `sandbox_pid`: a process that bwrap made with
  // --unshare-user --unshare-net and that is still blocked (--block-fd), so the build never runs
  // without its rules. Loads NftRuleset (for HostAddresses() of the calling thread's namespace)
  // into that namespace, then starts slirp4netns and waits for its --ready-fd. The sandbox's
  // /etc/resolv.conf should be SandboxResolvConf().
  //
  // Errors, after which nothing of the link is left running:
  //   kUnprocessable  policy.mode is kNone (attach nothing instead), or ValidateEgressPolicy;
  //   kUnavailable    not root, or slirp4netns/nft missing (the message names the path);
  //   kInternal       `sandbox_pid` is gone, its network namespace is the caller's own or is not
  //                   owned by a user namespace of its own (never touched then), or nft or
  //                   slirp4netns failed or timed out (with their output).
  static Result<std::unique_ptr<EgressLink>> Attach(pid_t sandbox_pid, const EgressPolicy& policy,
                                                    const EgressOptions& options = {});

  EgressLink(const EgressLink&) = delete;
  EgressLink& operator=(const EgressLink&) = delete;
  // Asks slirp4netns to exit (its exit fd), SIGKILLs it after a short grace, and reaps it.
  ~EgressLink();

  pid_t SlirpPidForTest() const { return slirp_pid_; }

 private:
  EgressLink(pid_t slirp_pid, int slirp_pidfd, int exit_fd)
      : slirp_pid_(slirp_pid), slirp_pidfd_(slirp_pidfd), exit_fd_(exit_fd) {}

  pid_t slirp_pid_;
  int slirp_pidfd_;
  int exit_fd_;  // write end of slirp4netns's --exit-fd
};

}  // namespace replideploy::sandbox

// What an API token may do. A small fixed set, each a group of endpoints (docs/api.md,
// "Tokens and scopes"):
//   read     reading sites, deploys, logs, the user and their accounts;
//   deploy   making, uploading, publishing, rolling back, locking and cancelling deploys, and
//            pushing to the platform's git remote;
//   sites    creating, changing and deleting sites, their environment variables (reading them
//            too: they are secrets), builds and build caches, the GitHub connection;
//   account  API tokens, login sessions, the password, invites and the audit log.
// Every scope includes read. A login session (JWT) has every scope. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::auth {

enum class Scope : std::uint8_t {
  kRead = 1,
  kDeploy = 2,
  kSites = 4,
  kAccount = 8,
};

// A set of scopes, as bits.
class ScopeSet {
 public:
  constexpr ScopeSet() = default;
  static constexpr ScopeSet All() { return ScopeSet(0xf); }

  bool Has(Scope s) const {
    // Every scope includes read.
    if (s == Scope::kRead) return bits_ != 0;
    return (bits_ & static_cast<std::uint8_t>(s)) != 0;
  }
  void Add(Scope s) { bits_ |= static_cast<std::uint8_t>(s); }
  bool empty() const { return bits_ == 0; }
  bool IsSubsetOf(ScopeSet other) const { return (bits_ & ~other.bits_) == 0; }
  bool operator==(const ScopeSet&) const = default;

  // Canonical order: read, deploy, sites, account.
  std::vector<std::string> Names() const;
  // Space-separated names; "" for All() (stored so: a full token gains scopes added later).
  std::string ToStorage() const;
  // The inverse of ToStorage; unknown names are dropped.
  static ScopeSet FromStorage(std::string_view stored);

 private:
  constexpr explicit ScopeSet(std::uint8_t bits) : bits_(bits) {}
  std::uint8_t bits_ = 0;
};

std::string_view ScopeName(Scope s);
// kUnprocessable "invalid_scope" for a name outside the set, or an empty list.
Result<ScopeSet> ParseScopes(const std::vector<std::string>& names);

}  // namespace replideploy::auth

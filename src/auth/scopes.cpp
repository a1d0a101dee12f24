#include "auth/scopes.hpp"

#include <array>

namespace replideploy::auth {

namespace {

constexpr std::array kScopes{Scope::kRead, Scope::kDeploy, Scope::kSites, Scope::kAccount};

}  // namespace

std::string_view ScopeName(Scope s) {
  switch (s) {
    case Scope::kRead:
      return "read";
    case Scope::kDeploy:
      return "deploy";
    case Scope::kSites:
      return "sites";
    case Scope::kAccount:
      return "account";
  }
  return "read";
}

std::vector<std::string> ScopeSet::Names() const {
  std::vector<std::string> out;
  for (Scope s : kScopes) {
    if ((bits_ & static_cast<std::uint8_t>(s)) != 0) out.emplace_back(ScopeName(s));
  }
  return out;
}

std::string ScopeSet::ToStorage() const {
  if (*this == All()) return "";
  std::string out;
  for (const auto& name : Names()) out += (out.empty() ? "" : " ") + name;
  return out;
}

ScopeSet ScopeSet::FromStorage(std::string_view stored) {
  if (stored.empty()) return All();
  ScopeSet set;
  while (!stored.empty()) {
    const auto space = stored.find(' ');
    const std::string_view name = stored.substr(0, space);
    for (Scope s : kScopes) {
      if (ScopeName(s) == name) set.Add(s);
    }
    stored = space == std::string_view::npos ? std::string_view{} : stored.substr(space + 1);
  }
  return set;
}

Result<ScopeSet> ParseScopes(const std::vector<std::string>& names) {
  ScopeSet set;
  for (const auto& name : names) {
    bool known = false;
    for (Scope s : kScopes) {
      if (ScopeName(s) == name) {
        set.Add(s);
        known = true;
      }
    }
    if (!known) {
      return Unprocessable("invalid_scope",
                           "scopes must be among read, deploy, sites and "
                           "account; \"" +
                               name.substr(0, 40) + "\" is not one");
    }
  }
  if (set.empty()) {
    return Unprocessable("invalid_scope",
                         "scopes must name at least one of read, deploy, sites and account");
  }
  return set;
}

}  // namespace replideploy::auth

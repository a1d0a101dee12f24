// Which site and deploy a Host names. Pure functions; thread-safe.
//
//   <site>.<base>                    the site's published deploy
//   <deploy_id>--<site>.<base>       that deploy (24 hex characters)
//   deploy-preview-<n>--<site>.<base> the newest ready deploy of pull request n
//   <alias>--<site>.<base>           the newest ready deploy of that branch or alias
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace replideploy::edge {

struct HostRoute {
  enum class Kind { kPublished, kDeployId, kPreview, kAlias };
  Kind kind = Kind::kPublished;
  std::string site_name;
  std::string deploy_id;            // kDeployId
  std::int64_t preview_number = 0;  // kPreview
  std::string alias;                // kAlias
};

// `host` is lower-case and without port. Nullopt when the host is not a single label under
// `base_domain` (custom domains are resolved elsewhere).
std::optional<HostRoute> ParseHostRoute(std::string_view host, std::string_view base_domain);

}  // namespace replideploy::edge

#include "edge/host_route.hpp"

#include <algorithm>
#include <charconv>

#include "core/text.hpp"

namespace replideploy::edge {

namespace {
bool IsHex24(std::string_view s) { return s.size() == 24 && core::IsLowerHex(s); }
}  // namespace

std::optional<HostRoute> ParseHostRoute(std::string_view host, std::string_view base_domain) {
  if (host.size() <= base_domain.size() + 1 || !host.ends_with(base_domain) ||
      host[host.size() - base_domain.size() - 1] != '.') {
    return std::nullopt;
  }
  std::string_view label = host.substr(0, host.size() - base_domain.size() - 1);
  if (label.empty() || label.find('.') != std::string_view::npos) return std::nullopt;
  HostRoute route;
  const auto sep = label.rfind("--");
  if (sep == std::string_view::npos) {
    route.site_name = std::string(label);
    return route;
  }
  const std::string_view prefix = label.substr(0, sep);
  route.site_name = std::string(label.substr(sep + 2));
  if (prefix.empty() || route.site_name.empty()) return std::nullopt;
  constexpr std::string_view kPreview = "deploy-preview-";
  if (IsHex24(prefix)) {
    route.kind = HostRoute::Kind::kDeployId;
    route.deploy_id = std::string(prefix);
  } else if (prefix.starts_with(kPreview)) {
    const std::string_view digits = prefix.substr(kPreview.size());
    std::int64_t n = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || n <= 0) return std::nullopt;
    route.kind = HostRoute::Kind::kPreview;
    route.preview_number = n;
  } else {
    route.kind = HostRoute::Kind::kAlias;
    route.alias = std::string(prefix);
  }
  return route;
}

}  // namespace replideploy::edge

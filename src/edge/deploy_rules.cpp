#include "edge/deploy_rules.hpp"

#include <algorithm>
#include <cctype>

#include "edge/paths.hpp"
#include "edge/rules.hpp"

namespace replideploy::edge {

struct DeployRules::Impl {
  RedirectMatcher redirects;
  HeaderMatcher headers;
};

DeployRules::DeployRules() = default;
DeployRules::~DeployRules() = default;

namespace {

// The content of a rule file in the deploy, or nullopt when it has none.
Result<std::optional<std::string>> ReadRuleFile(const deploys::DeployManifest& manifest,
                                                store::BlobStore& blobs, std::string_view path) {
  const deploys::ManifestEntry* entry = manifest.Find(path);
  if (entry == nullptr) return std::optional<std::string>();
  if (entry->size > static_cast<std::int64_t>(kMaxRuleFileBytes)) {
    return MakeError(ErrorCode::kUnprocessable,
                     std::string(path.substr(1)) + ": larger than the 4 MiB limit for rule files");
  }
  RD_TRY(std::string text, blobs.Read(entry->sha256(), store::Variant::kIdentity));
  return std::optional<std::string>(std::move(text));
}

bool IsBasicAuthHeader(std::string_view name) {
  constexpr std::string_view kName = "basic-auth";
  return name.size() == kName.size() &&
         std::equal(name.begin(), name.end(), kName.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace

Result<std::shared_ptr<const DeployRules>> DeployRules::Load(
    const deploys::DeployManifest& manifest, store::BlobStore& blobs,
    std::vector<SkippedRule>* skipped) {
  RD_TRY(auto redirects_file, ReadRuleFile(manifest, blobs, "/_redirects"));
  RD_TRY(auto headers_file, ReadRuleFile(manifest, blobs, "/_headers"));
  RD_TRY(auto toml_file, ReadRuleFile(manifest, blobs, "/netlify.toml"));
  return FromFiles(redirects_file, headers_file, toml_file, skipped);
}

Result<std::shared_ptr<const DeployRules>> DeployRules::FromFiles(
    const std::optional<std::string>& redirects_file,
    const std::optional<std::string>& headers_file, const std::optional<std::string>& toml_file,
    std::vector<SkippedRule>* skipped) {
  std::vector<RedirectRule> redirects;
  std::vector<HeaderRule> headers;
  if (redirects_file) {
    RD_TRY(redirects, ParseRedirectsFile(*redirects_file, "_redirects", skipped));
  }
  if (headers_file) {
    RD_TRY(headers, ParseHeadersFile(*headers_file, "_headers", skipped));
  }
  if (toml_file) {
    RD_TRY(NetlifyTomlRules toml, ParseNetlifyToml(*toml_file, "netlify.toml", skipped));
    // _redirects before netlify.toml: the first match wins.
    for (auto& r : toml.redirects) redirects.push_back(std::move(r));
    for (auto& h : toml.headers) headers.push_back(std::move(h));
  }
  RD_TRY(RedirectMatcher redirect_matcher, RedirectMatcher::Compile(std::move(redirects)));
  RD_TRY(HeaderMatcher header_matcher, HeaderMatcher::Compile(std::move(headers)));
  auto rules = std::make_shared<DeployRules>();
  rules->impl_ =
      std::make_unique<Impl>(Impl{std::move(redirect_matcher), std::move(header_matcher)});
  return std::shared_ptr<const DeployRules>(std::move(rules));
}

const std::vector<RedirectRule>& DeployRules::redirect_rules() const {
  return impl_->redirects.rules();
}

const std::vector<HeaderRule>& DeployRules::header_rules() const { return impl_->headers.rules(); }

std::vector<std::size_t> DeployRules::MatchingHeaderRules(std::string_view path) const {
  if (impl_->headers.rules().empty()) return {};
  return impl_->headers.MatchingRules(path);
}

bool DeployRules::empty() const {
  return impl_->redirects.rules().empty() && impl_->headers.rules().empty();
}

RuleDecision DeployRules::Match(const http::Request& request, std::string_view path,
                                bool has_static_file, std::span<const std::string> roles,
                                std::vector<RedirectVerdict>* trace) const {
  RuleDecision decision;
  if (impl_->redirects.rules().empty()) {
    if (trace != nullptr) trace->clear();
    return decision;
  }
  // A path no rule can match costs the index's lookups only (a trace still needs every rule's
  // verdict).
  if (trace == nullptr && !impl_->redirects.MayMatch(path)) return decision;
  const std::string& target = request.target;
  const auto q = target.find('?');
  RedirectRequest req;
  req.path = path;
  req.query = q == std::string::npos ? std::string_view() : std::string_view(target).substr(q + 1);
  req.scheme = "http";
  const std::string host = request.HostName();
  req.host = host;
  // No GeoIP database here: a CDN in front says where the visitor is, and Netlify's own cookie
  // lets a visitor (or a test) choose.
  std::string country(request.Header("CloudFront-Viewer-Country"));
  if (country.empty()) country = std::string(request.Header("X-Country"));
  req.country = country;
  req.accept_language = request.Header("Accept-Language");
  req.cookie_header = request.Header("Cookie");
  req.roles = roles;
  RedirectMatch match = impl_->redirects.Match(
      req, [has_static_file](std::string_view) { return has_static_file; }, trace);
  switch (match.kind) {
    case RedirectMatch::Kind::kNone:
    case RedirectMatch::Kind::kShadowed:
      return decision;
    case RedirectMatch::Kind::kDenied:
      decision.kind = RuleDecision::Kind::kStatus;
      decision.status = 404;
      return decision;
    case RedirectMatch::Kind::kRule:
      break;
  }
  const RedirectRule& rule = impl_->redirects.rules()[match.rule_index];
  decision.status = match.status;
  if (match.status >= 300 && match.status < 400) {
    decision.kind = RuleDecision::Kind::kRedirect;
    decision.target = match.destination;
    return decision;
  }
  if (IsProxyRule(rule)) {
    decision.kind = RuleDecision::Kind::kProxy;
    decision.target = match.destination;
    decision.proxy_headers = rule.proxy_headers;
    return decision;
  }
  decision.kind = match.status == 200 ? RuleDecision::Kind::kRewrite : RuleDecision::Kind::kStatus;
  const std::string& to = match.target;
  auto normalized = NormalizeRequestPath(std::string_view(to).substr(0, to.find('?')));
  // A target that is not a safe path (an absolute URL with a non-200 status, say) serves the
  // status with the not-found page.
  decision.target = normalized.ok() ? *normalized : std::string();
  return decision;
}

std::vector<std::pair<std::string, std::string>> DeployRules::HeadersFor(
    std::string_view path) const {
  if (impl_->headers.rules().empty()) return {};
  auto headers = impl_->headers.HeadersFor(path);
  std::erase_if(headers, [](const auto& h) { return IsBasicAuthHeader(h.first); });
  return headers;
}

DeployRules::BasicAuth DeployRules::BasicAuthFor(std::string_view path) const {
  BasicAuth auth;
  if (impl_->headers.rules().empty()) return auth;
  bool protected_path = false;
  for (std::size_t index : impl_->headers.MatchingRules(path)) {
    const HeaderRule& rule = impl_->headers.rules()[index];
    for (const auto& [name, value] : rule.values) {
      if (!IsBasicAuthHeader(name)) continue;
      if (!protected_path) auth.source = rule.source;
      protected_path = true;
      // Space-separated "user:password" pairs (a name given twice in one rule is comma-joined).
      std::size_t pos = 0;
      while (pos < value.size()) {
        const std::size_t end = value.find_first_of(" \t", pos);
        std::string token = value.substr(pos, end == std::string::npos ? end : end - pos);
        pos = end == std::string::npos ? value.size() : end + 1;
        // Two Basic-Auth lines of one rule arrive joined by ", ".
        if (end != std::string::npos && token.ends_with(',')) token.pop_back();
        const std::size_t colon = token.find(':');
        if (colon != std::string::npos && colon > 0) auth.credentials.push_back(token);
      }
    }
  }
  if (protected_path && auth.credentials.empty()) auth.credentials.emplace_back();
  return auth;
}

}  // namespace replideploy::edge

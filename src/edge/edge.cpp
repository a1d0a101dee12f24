#include "edge/edge.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include "core/crypto.hpp"
#include "edge/host_route.hpp"
#include "edge/paths.hpp"
#include "edge/proxy.hpp"
#include "edge/route.hpp"
#include "edge/site_password.hpp"
#include "edge/static_files.hpp"

namespace replideploy::edge {

namespace {

constexpr std::string_view kDefaultCacheControl = "public, max-age=0, must-revalidate";

http::Response PlainNotFound() {
  http::Response r = http::Response::Text(
      404,
      "<!doctype html><title>Not Found</title><h1>Page not found</h1>"
      "<p>Looks like you followed a broken link or entered a URL that does not exist on this "
      "site.</p>\n",
      "text/html; charset=utf-8");
  r.headers.Set("Cache-Control", "no-cache");
  return r;
}

// True when the client accepts `coding` per RFC 9110 (present and q > 0).
bool Accepts(std::string_view accept_encoding, std::string_view coding) {
  std::size_t pos = 0;
  while (pos < accept_encoding.size()) {
    std::size_t end = accept_encoding.find(',', pos);
    if (end == std::string_view::npos) end = accept_encoding.size();
    std::string_view item = accept_encoding.substr(pos, end - pos);
    pos = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::string_view name = item.substr(0, item.find(';'));
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.size() != coding.size() ||
        !std::equal(name.begin(), name.end(), coding.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      continue;
    }
    const auto q = item.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view value = item.substr(q + 2);
    return !(value.starts_with("0") && value.find_first_not_of("0.") == std::string_view::npos &&
             value.find_first_of("123456789") == std::string_view::npos);
  }
  return false;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.find('*') != std::string_view::npos) return true;
  // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x", so a plain substring search of the
  // quoted tag is enough; the closing quote keeps "x" from matching "x-br".
  return if_none_match.find(etag) != std::string_view::npos;
}

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

enum class RangeKind { kNone, kOne, kUnsatisfiable };

// One "bytes=a-b" range; several ranges or an unparsable header are ignored (a full 200 is
// always a valid answer to a Range request).
RangeKind ParseRange(std::string_view header, std::uint64_t size, ByteRange& out) {
  constexpr std::string_view kPrefix = "bytes=";
  if (!header.starts_with(kPrefix)) return RangeKind::kNone;
  std::string_view spec = header.substr(kPrefix.size());
  if (spec.find(',') != std::string_view::npos) return RangeKind::kNone;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::kNone;
  auto number = [](std::string_view s, std::uint64_t& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  std::uint64_t x = 0, y = 0;
  if (a.empty()) {
    if (!number(b, y)) return RangeKind::kNone;
    if (y == 0 || size == 0) return RangeKind::kUnsatisfiable;
    out = {size - std::min(y, size), size - 1};
    return RangeKind::kOne;
  }
  if (!number(a, x)) return RangeKind::kNone;
  if (b.empty()) {
    y = size == 0 ? 0 : size - 1;
  } else if (!number(b, y) || y < x) {
    return RangeKind::kNone;
  }
  if (x >= size) return RangeKind::kUnsatisfiable;
  out = {x, std::min(y, size - 1)};
  return RangeKind::kOne;
}

bool IsHtml(std::string_view content_type) {
  return content_type.starts_with("text/html") || content_type.starts_with("application/xhtml+xml");
}

// What a skew protection cookie may pin: a file of the pinned deploy other than HTML (a page
// always comes from the live deploy, and sets the cookie anew), or one of its functions.
bool SkewPinnable(const Route& route) {
  if (route.kind == Route::Kind::kFunction) return true;
  return route.kind == Route::Kind::kFile && !route.not_found_page &&
         !IsHtml(route.entry->content_type);
}

std::string SkewProtectionSetCookie(const std::string& deploy_id, std::int64_t seconds,
                                    bool secure) {
  std::string cookie = std::string(kSkewProtectionCookie) + "=" + deploy_id +
                       "; Path=/; Max-Age=" + std::to_string(seconds) + "; HttpOnly; SameSite=Lax";
  if (secure) cookie += "; Secure";
  return cookie;
}

// Every answer of a skew-protected address may depend on the cookie (Vary: Cookie); one that
// it pinned, or that sets it, is for this visitor only (no shared cache keeps it). Also on an
// answer that another origin or a function gives later.
void AddSkewProtection(http::Response& response, bool pinned, const std::string& set_cookie) {
  if (response.deferred) {
    response.deferred = [inner = std::move(response.deferred), pinned, set_cookie] {
      http::Response answer = inner();
      AddSkewProtection(answer, pinned, set_cookie);
      return answer;
    };
    return;
  }
  const std::string_view vary = response.headers.Get("Vary");
  if (vary.empty()) {
    response.headers.Set("Vary", "Cookie");
  } else if (vary != "*") {
    bool has_cookie = false;
    for (const std::string& token : http::SplitHeaderTokens(vary)) {
      has_cookie =
          has_cookie || (token.size() == 6 &&
                         std::equal(token.begin(), token.end(), "cookie", [](char a, char b) {
                           return std::tolower(static_cast<unsigned char>(a)) == b;
                         }));
    }
    if (!has_cookie) response.headers.Set("Vary", std::string(vary) + ", Cookie");
  }
  if (pinned || !set_cookie.empty()) response.headers.Set("Cache-Control", "private, no-cache");
  if (!set_cookie.empty()) response.headers.Add("Set-Cookie", set_cookie);
}

// A file answer's ETag and headers (Content-Type, Cache-Control, ETag, X-RepliDeploy-Deploy,
// Vary, Content-Encoding, Accept-Ranges), built and pre-rendered (http::Headers::Prerender) once,
// then shared by every answer of that file: an answer takes a reference to them instead of
// building seven headers. What changes per answer (a rule's headers, a Content-Range) is set on
// the answer's own copy of the list.
struct PreparedHead {
  http::Headers headers;
  std::string etag;
};

// The prepared head for `entry` of `manifest` in `variant`. Cached per thread (no lock), keyed by
// everything the head is made of (deploy id, content type, content digest, variant, whether the
// file has variants, whether it is a 200): a new deploy or manifest can never get another's head.
// The reference is valid until the next call on this thread.
const PreparedHead& PreparedFileHead(const deploys::DeployManifest& manifest,
                                     const deploys::ManifestEntry& entry, std::string_view sha256,
                                     store::Variant variant, bool ok_status) {
  constexpr std::size_t kMaxPreparedPerThread = 2048;
  thread_local std::unordered_map<std::string, PreparedHead> cache;
  thread_local std::string key;
  const bool has_variants = entry.has_br || entry.has_gzip;
  key.assign(manifest.deploy_id);
  key.push_back('\n');
  key.append(entry.content_type);
  key.push_back('\n');
  key.append(sha256);
  key.append(store::VariantSuffix(variant));
  key.push_back(has_variants ? 'v' : '-');
  key.push_back(ok_status ? '2' : '-');
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= kMaxPreparedPerThread) cache.clear();

  PreparedHead prepared;
  std::string& etag = prepared.etag;
  etag.reserve(48);
  etag.push_back('"');
  etag.append(sha256.substr(0, 32));
  if (variant != store::Variant::kIdentity) {
    etag.push_back('-');
    etag.append(store::VariantContentEncoding(variant));
  }
  etag.push_back('"');
  http::Headers& headers = prepared.headers;
  headers.Add("Content-Type",
              std::string(entry.content_type.empty() ? std::string_view("application/octet-stream")
                                                     : entry.content_type));
  headers.Add("Cache-Control", std::string(kDefaultCacheControl));
  headers.Add("ETag", etag);
  headers.Add("X-RepliDeploy-Deploy", manifest.deploy_id);
  if (has_variants) headers.Add("Vary", "Accept-Encoding");
  if (variant != store::Variant::kIdentity) {
    headers.Add("Content-Encoding", std::string(store::VariantContentEncoding(variant)));
  }
  if (ok_status) headers.Add("Accept-Ranges", "bytes");
  headers.Prerender();
  return cache.emplace(key, std::move(prepared)).first->second;
}

Error WouldBlock() {
  Error e = MakeError(ErrorCode::kUnavailable, "needs blocking work");
  e.detail_code = "would_block";
  return e;
}

// The non-primary member of an apex/www pair: the same path and query on the primary, keeping
// the port the client used.
http::Response RedirectToPrimary(const http::Request& request, const std::string& primary) {
  const std::string_view host = request.Header("Host");
  std::string port;
  if (const auto colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    port = std::string(host.substr(colon));
  }
  const std::string target = request.target.starts_with("/") ? request.target : "/";
  http::Response r = http::Response::Text(301, "Moved Permanently\n");
  r.headers.Set("Location", "http://" + primary + port + target);
  r.headers.Set("Cache-Control", "public, max-age=0, must-revalidate");
  return r;
}

bool IsWouldBlock(const Error& e) { return e.detail_code == "would_block"; }

http::Response BadGateway(std::string_view why) {
  spdlog::warn("edge: refused: {}", why);
  return http::Response::Text(502, "Bad Gateway\n");
}

// The blob file at `path`, open for reading, with its size.
Result<std::pair<core::UniqueFd, std::uint64_t>> OpenBlobFile(const std::string& path) {
  core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = fd.get() < 0 ? errno : EINVAL;
    spdlog::error("edge: cannot open {}: {}", path, std::strerror(err));
    return MakeError(ErrorCode::kInternal, "cannot open a stored file");
  }
  return std::pair{std::move(fd), static_cast<std::uint64_t>(st.st_size)};
}

}  // namespace

Edge::Edge(deploys::SiteService& sites, deploys::DeployService& deploys, store::BlobStore& blobs,
           EdgeOptions options)
    : sites_service_(sites), deploys_(deploys), blobs_(blobs), options_(std::move(options)) {}

void Edge::InvalidateSite(const std::string& site_id) {
  ++invalidations_;  // before the erasing: see LookupSite
  {
    std::lock_guard lock(sites_mu_);
    std::erase_if(sites_, [&](const auto& kv) { return kv.second->site_id == site_id; });
  }
  // A renamed site's custom hosts name it by its old name.
  std::lock_guard lock(custom_hosts_mu_);
  std::erase_if(custom_hosts_, [&](const auto& kv) { return kv.second.host.site_id == site_id; });
}

void Edge::InvalidateCustomHosts() {
  ++invalidations_;
  std::lock_guard lock(custom_hosts_mu_);
  custom_hosts_.clear();
}

void Edge::InvalidateAll() {
  ++invalidations_;
  {
    std::lock_guard lock(sites_mu_);
    sites_.clear();
  }
  InvalidateCustomHosts();
}

Result<CustomHost> Edge::LookupCustomHost(const std::string& host, bool memory_only) {
  if (!custom_host_resolver_) return MakeError(ErrorCode::kNotFound, "no site at this host");
  {
    std::lock_guard lock(custom_hosts_mu_);
    auto it = custom_hosts_.find(host);
    if (it != custom_hosts_.end() &&
        std::chrono::steady_clock::now() - it->second.read_at < options_.site_cache_ttl) {
      if (!it->second.found) return MakeError(ErrorCode::kNotFound, "no site at this host");
      return it->second.host;
    }
  }
  if (memory_only) return WouldBlock();
  const std::uint64_t invalidations = invalidations_.load();
  auto found = custom_host_resolver_(host);
  if (!found.ok() && found.error().code != ErrorCode::kNotFound) return found;
  CustomHostEntry entry{found.ok(), found.ok() ? *found : CustomHost{},
                        std::chrono::steady_clock::now()};
  {
    std::lock_guard lock(custom_hosts_mu_);
    if (custom_hosts_.size() > 100'000) custom_hosts_.clear();
    if (invalidations_.load() == invalidations) custom_hosts_[host] = entry;
  }
  return found;
}

Result<std::vector<deploys::DeployMessage>> Edge::ValidateDeploy(
    const deploys::DeployManifest& manifest, store::BlobStore& blobs) {
  std::vector<SkippedRule> skipped;
  auto rules = DeployRules::Load(manifest, blobs, &skipped);
  if (!rules.ok()) return std::move(rules).error();
  std::vector<deploys::DeployMessage> messages;
  for (SkippedRule& rule : skipped) {
    deploys::DeployMessage m;
    m.title = "Rule skipped in " + rule.file + " line " + std::to_string(rule.line);
    m.description = Describe(rule);
    m.details = std::move(rule.text);
    m.file = std::move(rule.file);
    m.line = static_cast<std::int64_t>(rule.line);
    messages.push_back(std::move(m));
  }
  return messages;
}

Result<std::shared_ptr<const Edge::SiteEntry>> Edge::LookupSite(const std::string& name,
                                                                bool memory_only) {
  // Read the version before the cache or the database: an entry is current only if no publish
  // committed since it was read (see DeployService::publish_version).
  const std::uint64_t version = deploys_.publish_version();
  const bool cacheable = !deploys_.publish_in_flight();
  if (cacheable) {
    std::lock_guard lock(sites_mu_);
    auto it = sites_.find(name);
    if (it != sites_.end() && it->second->publish_version == version &&
        std::chrono::steady_clock::now() - it->second->read_at < options_.site_cache_ttl) {
      return it->second;
    }
  }
  if (memory_only) return WouldBlock();
  // An invalidation erases under the lock after counting: an entry read before it is either
  // erased by it or, here, not stored.
  const std::uint64_t invalidations = invalidations_.load();
  RD_TRY(deploys::EdgeSite site, sites_service_.EdgeSiteByName(name));
  deploys::SiteTraffic* traffic = traffic_ != nullptr ? &traffic_->ForSite(site.id) : nullptr;
  SiteEntry entry{std::move(site.id),
                  std::move(site.published_deploy_id),
                  std::move(site.password_hash),
                  site.password_scope,
                  site.https_redirect,
                  site.hsts,
                  &core::metrics::SiteRequestsFor(name),
                  traffic,
                  version,
                  std::chrono::steady_clock::now(),
                  site.skew_protection_seconds};
  entry.function_timeout_seconds = site.function_timeout_seconds;
  if (entry.skew_protection_seconds > 0) RD_TRY_STATUS(ReadPinnableDeploys(entry));
  auto shared = std::make_shared<const SiteEntry>(std::move(entry));
  if (cacheable) {
    std::lock_guard lock(sites_mu_);
    if (sites_.size() > 100'000) sites_.clear();
    if (invalidations_.load() == invalidations) sites_[name] = shared;
  }
  return shared;
}

Status Edge::ReadPinnableDeploys(SiteEntry& site) {
  const std::int64_t window_ms = site.skew_protection_seconds * 1000;
  RD_TRY(deploys::DeployService::RecentDeploys recent,
         deploys_.RecentlyPublished(site.site_id, site.published_deploy_id, window_ms));
  // The database's clock says how long each stays pinnable; the request path compares with the
  // steady clock only.
  auto pinnable = std::make_shared<std::vector<SiteEntry::PinnableDeploy>>();
  for (const auto& d : recent.deploys) {
    if (d.live_until == 0 || d.id == site.published_deploy_id) continue;
    const std::int64_t left_ms = d.live_until + window_ms - recent.read_at;
    if (left_ms <= 0) continue;
    pinnable->push_back({d.id, site.read_at + std::chrono::milliseconds(left_ms)});
  }
  if (!pinnable->empty()) site.pinnable = std::move(pinnable);
  return {};
}

const std::string* Edge::PinnedDeploy(const http::Request& request, const SiteEntry& site) {
  if (!site.pinnable) return nullptr;
  const std::string_view cookie_header = request.Header("Cookie");
  if (cookie_header.empty()) return nullptr;
  const auto id = http::CookieValue(cookie_header, kSkewProtectionCookie);
  if (!id || id->empty()) return nullptr;
  for (const SiteEntry::PinnableDeploy& d : *site.pinnable) {
    if (d.id == *id) {
      return std::chrono::steady_clock::now() < d.until ? &d.id : nullptr;
    }
  }
  return nullptr;
}

Result<std::shared_ptr<const deploys::DeployManifest>> Edge::ManifestFor(
    const std::string& deploy_id, bool memory_only) {
  if (!memory_only) return deploys_.Manifest(deploy_id);
  auto cached = deploys_.CachedManifest(deploy_id);
  if (!cached) return WouldBlock();
  return cached;
}

Result<Edge::Resolved> Edge::ResolveDeploy(std::string_view host, bool memory_only) {
  auto route = ParseHostRoute(host, options_.base_domain);
  Resolved resolved;
  if (!route) {
    RD_TRY(CustomHost custom, LookupCustomHost(std::string(host), memory_only));
    if (!custom.redirect_to.empty()) {
      resolved.redirect_to = std::move(custom.redirect_to);
      return resolved;
    }
    route = HostRoute{HostRoute::Kind::kPublished, std::move(custom.site_name), "", 0, ""};
  }
  RD_TRY(resolved.site, LookupSite(route->site_name, memory_only));
  resolved.site_name = std::move(route->site_name);  // a long name is not copied again
  if (memory_only && route->kind != HostRoute::Kind::kPublished) return WouldBlock();
  const std::string& site_id = resolved.site->site_id;
  switch (route->kind) {
    case HostRoute::Kind::kPublished:
      if (resolved.site->published_deploy_id.empty()) {
        return MakeError(ErrorCode::kNotFound, "nothing published");
      }
      resolved.production = true;
      break;
    case HostRoute::Kind::kDeployId: {
      RD_TRY(resolved.deploy_id, deploys_.ReadyDeployOfSite(site_id, route->deploy_id));
      break;
    }
    case HostRoute::Kind::kPreview: {
      RD_TRY(resolved.deploy_id, deploys_.LatestReadyPreview(site_id, route->preview_number));
      break;
    }
    case HostRoute::Kind::kAlias: {
      RD_TRY(resolved.deploy_id, deploys_.LatestReadyBranch(site_id, route->alias));
      break;
    }
  }
  return resolved;
}

bool Edge::RememberedSitePassword(const std::string& password_hash, std::string_view password) {
  const std::string key = core::HmacSha256(password_hash, password);
  std::lock_guard lock(passwords_mu_);
  auto it = passwords_ok_.find(key);
  return it != passwords_ok_.end() && std::chrono::steady_clock::now() < it->second;
}

Edge::PasswordCheck Edge::CheckSitePassword(const std::string& password_hash,
                                            std::string_view password) {
  // Argon2id costs tens of milliseconds and megabytes by design: a flood of wrong passwords
  // must not take every handler thread.
  constexpr int kMaxPasswordChecks = 2;
  constexpr auto kRemembered = std::chrono::minutes(10);
  if (RememberedSitePassword(password_hash, password)) return PasswordCheck::kRight;
  {
    std::lock_guard lock(passwords_mu_);
    if (password_checks_running_ >= kMaxPasswordChecks) return PasswordCheck::kBusy;
    ++password_checks_running_;
  }
  const bool right = core::VerifyPassword(password, password_hash);
  std::lock_guard lock(passwords_mu_);
  --password_checks_running_;
  if (!right) return PasswordCheck::kWrong;
  if (passwords_ok_.size() > 10'000) passwords_ok_.clear();
  passwords_ok_[core::HmacSha256(password_hash, password)] =
      std::chrono::steady_clock::now() + kRemembered;
  return PasswordCheck::kRight;
}

Result<std::optional<http::Response>> Edge::GuardSitePassword(const http::Request& request,
                                                              const SiteEntry& site,
                                                              std::string_view path,
                                                              bool memory_only) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  auto busy = [] {
    http::Response r = http::Response::Text(429, "Too many password checks at once; retry.\n");
    r.headers.Set("Retry-After", "1");
    r.headers.Set("Cache-Control", "no-store");
    return r;
  };
  auto ask = [&](int status, bool wrong) {
    http::Response r;
    if (WantsHtml(request) || request.method == "POST") {
      // No Basic challenge here: a browser would put its own prompt in front of the page.
      r = http::Response::Text(status, SitePasswordPage(request.HostName(), request.target, wrong),
                               "text/html; charset=utf-8");
    } else {
      r = http::Response::Text(status, "Unauthorized: this site is password protected.\n");
      r.headers.Set("WWW-Authenticate",
                    "Basic realm=\"" + request.HostName() + "\", charset=\"UTF-8\"");
    }
    r.headers.Set("Cache-Control", "no-store");
    return r;
  };

  // The sign-in form.
  if (path == kSitePasswordPath && request.method == "POST") {
    if (memory_only) return WouldBlock();
    const std::string password = FormField(request.body, "password").value_or("");
    const std::string return_to =
        SafeReturnPath(FormField(request.body, "return_to").value_or("/"));
    switch (password.empty() ? PasswordCheck::kWrong
                             : CheckSitePassword(site.password_hash, password)) {
      case PasswordCheck::kBusy:
        return std::optional<http::Response>(busy());
      case PasswordCheck::kWrong: {
        http::Response r = ask(401, /*wrong=*/true);
        // The page posts back here: keep where the visitor was going.
        r.body = SitePasswordPage(request.HostName(), return_to, /*wrong=*/true);
        return std::optional<http::Response>(std::move(r));
      }
      case PasswordCheck::kRight:
        break;
    }
    http::Response r;
    r.status = 303;
    r.headers.Set("Location", return_to);
    r.headers.Set("Cache-Control", "no-store");
    r.headers.Set("Set-Cookie",
                  SitePasswordSetCookie(SignSitePasswordCookie(site.site_id, site.password_hash,
                                                               now + kSitePasswordCookieSeconds),
                                        kSitePasswordCookieSeconds));
    return std::optional<http::Response>(std::move(r));
  }

  const auto cookie = http::CookieValue(request.Header("Cookie"), kSitePasswordCookie);
  if (cookie && VerifySitePasswordCookie(*cookie, site.site_id, site.password_hash, now)) {
    return std::optional<http::Response>();
  }
  if (auto basic = http::BasicCredentials(request.Header("Authorization"))) {
    if (RememberedSitePassword(site.password_hash, basic->second)) {
      return std::optional<http::Response>();
    }
    if (memory_only) return WouldBlock();
    switch (CheckSitePassword(site.password_hash, basic->second)) {
      case PasswordCheck::kRight:
        return std::optional<http::Response>();
      case PasswordCheck::kBusy:
        return std::optional<http::Response>(busy());
      case PasswordCheck::kWrong:
        break;
    }
  }
  return std::optional<http::Response>(ask(401, /*wrong=*/false));
}

std::optional<http::Request> Edge::PlatformRequest(const http::Request& request,
                                                   const RuleDecision& decision) const {
  auto url = boost::urls::parse_absolute_uri(decision.target);
  if (!url || (url->scheme() != "http" && url->scheme() != "https")) return std::nullopt;
  std::string host(url->encoded_host());
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!ParseHostRoute(host, options_.base_domain)) return std::nullopt;
  http::Request inner = request;
  inner.target = url->encoded_path().empty() ? "/" : std::string(url->encoded_path());
  if (url->has_query()) inner.target += "?" + std::string(url->encoded_query());
  inner.headers.Set("Host", host);
  for (const auto& [name, value] : decision.proxy_headers) inner.headers.Set(name, value);
  return inner;
}

Result<bool> Edge::SameAccount(const std::string& site_a, const std::string& site_b) {
  if (site_a == site_b) return true;
  RD_TRY(deploys::Site a, sites_service_.GetById(site_a));
  RD_TRY(deploys::Site b, sites_service_.GetById(site_b));
  return a.account_id == b.account_id;
}

Result<std::shared_ptr<const DeployRules>> Edge::RulesFor(const deploys::DeployManifest& manifest,
                                                          bool memory_only) {
  if (auto cached = rules_.Find(manifest.deploy_id)) return cached;
  if (memory_only) return WouldBlock();
  RD_TRY(auto rules, DeployRules::Load(manifest, blobs_));
  return rules_.Insert(manifest.deploy_id, std::move(rules), 1);
}

namespace {

// The caches' key of a blob's variant, "<sha256><variant suffix>", built in a per-thread buffer:
// a cache hit costs no allocation. Valid until the thread's next call.
const std::string& BlobKey(std::string_view sha256, store::Variant variant) {
  thread_local std::string key;
  key.assign(sha256);
  key.append(store::VariantSuffix(variant));
  return key;
}

}  // namespace

Result<std::shared_ptr<const std::string>> Edge::ReadBlob(std::string_view sha256,
                                                          store::Variant variant, std::size_t size,
                                                          bool memory_only) {
  const std::string& key = BlobKey(sha256, variant);
  if (auto cached = blobs_in_memory_.Find(key)) return cached;
  if (memory_only) return WouldBlock();
  RD_TRY(std::string data, blobs_.Read(sha256, variant));
  auto shared = std::make_shared<const std::string>(std::move(data));
  if (size > options_.cache_max_blob) return shared;
  const std::size_t cost = shared->size();
  return blobs_in_memory_.Insert(key, std::move(shared), cost);
}

Result<std::shared_ptr<http::FileBody>> Edge::OpenBlob(std::string_view sha256,
                                                       store::Variant variant, bool memory_only) {
  const std::string& key = BlobKey(sha256, variant);
  std::shared_ptr<const OpenFile> open = open_files_.Find(key);
  if (!open) {
    if (memory_only) return WouldBlock();
    const std::optional<std::string> path = blobs_.LocalPath(sha256, variant);
    if (!path) return std::shared_ptr<http::FileBody>();
    RD_TRY(auto opened, OpenBlobFile(*path));
    auto file = std::make_shared<OpenFile>();
    file->fd = std::move(opened.first);
    file->size = opened.second;
    const std::uint64_t least =
        options_.open_file_bytes / std::max<std::size_t>(options_.open_files, 1);
    const std::uint64_t cost = std::max(file->size, least);
    open = open_files_.Insert(key, std::move(file), cost);
  }
  auto body = std::make_shared<http::FileBody>();
  body->shared_fd = std::shared_ptr<const core::UniqueFd>(open, &open->fd);
  body->length = open->size;
  return body;
}

Result<http::Response> Edge::ServeEntry(const http::Request& request,
                                        const deploys::DeployManifest& manifest,
                                        const deploys::ManifestEntry& entry, int status,
                                        bool memory_only) {
  http::Response response;
  response.status = status;
  const std::string_view range_header = request.Header("Range");
  store::Variant variant = store::Variant::kIdentity;
  // Ranges address the identity bytes, so a Range request is answered uncompressed.
  if (range_header.empty() && status == 200) {
    const std::string_view ae = request.Header("Accept-Encoding");
    if (entry.has_br && Accepts(ae, "br")) {
      variant = store::Variant::kBrotli;
    } else if (entry.has_gzip && Accepts(ae, "gzip")) {
      variant = store::Variant::kGzip;
    }
  }
  const deploys::Sha256Hex sha256 = entry.sha256();
  const PreparedHead& prepared =
      PreparedFileHead(manifest, entry, sha256.view(), variant, status == 200);
  response.headers = prepared.headers;
  const std::string_view etag = prepared.etag;
  if (status == 200 && EtagMatches(request.Header("If-None-Match"), etag)) {
    response.status = 304;
    return response;
  }
  // A variant is never larger than the content, so the content's size bounds what is cached.
  // Larger blobs go out from their file as the client reads them, never whole into memory; so do
  // plain-HTTP bodies from sendfile_min on (see EdgeOptions).
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<http::FileBody> file;
  const auto bound = static_cast<std::uint64_t>(entry.size);
  if (bound > options_.cache_max_blob || (!request.secure && bound >= options_.sendfile_min)) {
    auto opened = OpenBlob(sha256.view(), variant, memory_only);
    if (!opened.ok()) {
      if (IsWouldBlock(opened.error())) return std::move(opened).error();
      spdlog::error("deploy {}: cannot open blob {}", manifest.deploy_id, sha256.view());
      return http::Response::Text(503, "Service Unavailable\n");
    }
    file = std::move(opened).value();
  }
  if (!file) {
    auto data = ReadBlob(sha256, variant, static_cast<std::size_t>(entry.size), memory_only);
    if (!data.ok()) {
      if (IsWouldBlock(data.error())) return std::move(data).error();
      spdlog::error("deploy {}: cannot read blob {}: {}", manifest.deploy_id, sha256.view(),
                    data.error().message);
      return http::Response::Text(503, "Service Unavailable\n");
    }
    bytes = std::move(data).value();
  }
  const std::uint64_t size = file ? file->length : bytes->size();
  std::uint64_t offset = 0;
  std::uint64_t length = size;
  ByteRange range;
  switch (status == 200 ? ParseRange(range_header, size, range) : RangeKind::kNone) {
    case RangeKind::kUnsatisfiable:
      response.status = 416;
      response.headers.Set("Content-Range", "bytes */" + std::to_string(size));
      return response;
    case RangeKind::kOne:
      response.status = 206;
      response.headers.Set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                std::to_string(range.last) + "/" +
                                                std::to_string(size));
      offset = range.first;
      length = range.last - range.first + 1;
      break;
    case RangeKind::kNone:
      break;
  }
  if (file) {
    file->offset = offset;
    file->length = length;
    response.file_body = std::move(file);
  } else {
    response.shared_body = std::move(bytes);
    response.shared_offset = static_cast<std::size_t>(offset);
    response.shared_length = static_cast<std::size_t>(length);
  }
  return response;
}

http::Response Edge::Proxy(const http::Request& request, const RuleDecision& decision) {
  ProxyOptions options;
  options.allow_private = options_.allow_private_proxy;
  options.timeout = options_.proxy_timeout;
  return ProxyRequest(request, decision.target, decision.proxy_headers, options);
}

namespace {

// The HTTP-01 answer (RFC 8555 8.3), when `request` asks for a challenge and a lookup is set.
std::optional<http::Response> AcmeChallengeAnswer(const AcmeChallengeLookup& lookup,
                                                  const http::Request& request) {
  if (!lookup || !request.target.starts_with(kAcmeChallengePrefix)) return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  std::string_view target = request.target;
  target = target.substr(0, target.find('?'));
  const std::string_view token = target.substr(kAcmeChallengePrefix.size());
  auto answer = lookup(token);
  if (!answer) return http::Response::Text(404, "Not Found\n");
  http::Response response = http::Response::Text(200, std::move(*answer));
  response.headers.Set("Cache-Control", "no-store");
  return response;
}

constexpr std::string_view kHstsValue = "max-age=31536000";

// HSTS on an HTTPS answer, also on one that another origin or a function gives later.
void AddHsts(http::Response& response) {
  if (response.deferred) {
    response.deferred = [inner = std::move(response.deferred)] {
      http::Response answer = inner();
      AddHsts(answer);
      return answer;
    };
    return;
  }
  response.headers.Set("Strict-Transport-Security", std::string(kHstsValue));
}

// The path a request is counted under in site analytics: its target without the query.
std::string_view RequestPath(const http::Request& request) {
  std::string_view target = request.target;
  return target.substr(0, target.find('?'));
}

// The body bytes an answer sends (none for HEAD).
std::uint64_t SentBytes(const http::Request& request, const http::Response& response) {
  return request.method == "HEAD" ? 0 : response.BodySize();
}

}  // namespace

std::optional<http::Response> Edge::HttpsRedirect(const http::Request& request,
                                                  const SiteEntry& site) const {
  if (request.secure || !site.https_redirect || !options_.https_port_for) return std::nullopt;
  // The CA must reach HTTP-01 challenges over plain HTTP.
  if (request.path.rfind("/.well-known/acme-challenge/", 0) == 0) return std::nullopt;
  const std::string host = request.HostName();
  if (host.empty()) return std::nullopt;
  const std::optional<std::uint16_t> port = options_.https_port_for(host);
  if (!port) return std::nullopt;
  std::string location = "https://" + host;
  if (*port != 443) location += ":" + std::to_string(*port);
  location += request.target.empty() || request.target.front() != '/' ? "/" : request.target;
  http::Response response = http::Response::Text(301, "Redirecting to " + location + "\n");
  response.headers.Set("Location", location);
  response.headers.Set("Cache-Control", std::string(kDefaultCacheControl));
  return response;
}

http::Response Edge::Serve(http::Request& request) {
  if (auto acme = AcmeChallengeAnswer(acme_lookup_, request)) return std::move(*acme);
  ServedSite served;
  auto response = ServeImpl(request, /*memory_only=*/false, "", &served);
  if (!response.ok()) {
    spdlog::error("edge: {}", response.error().message);
    http::Response unavailable = http::Response::Text(503, "Service Unavailable\n");
    if (served.requests != nullptr) served.requests->Count(unavailable.status);
    if (served.traffic != nullptr) {
      served.traffic->Record(RequestPath(request), unavailable.status,
                             SentBytes(request, unavailable));
    }
    return unavailable;
  }
  FinishForSite(request, served, *response);
  return std::move(response).value();
}

std::optional<http::Response> Edge::TryServeFromMemory(http::Request& request) {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  // Challenge lookups may read the database: Serve answers them.
  if (acme_lookup_ && request.target.starts_with(kAcmeChallengePrefix)) return std::nullopt;
  ServedSite served;
  auto response = ServeImpl(request, /*memory_only=*/true, "", &served);
  if (!response.ok()) return std::nullopt;
  FinishForSite(request, served, *response);
  return std::move(response).value();
}

void Edge::FinishForSite(const http::Request& request, const ServedSite& served,
                         http::Response& response) {
  if (served.hsts && request.secure) AddHsts(response);
  if (served.requests == nullptr) return;
  if (response.deferred) {
    std::string path = served.traffic != nullptr ? std::string(RequestPath(request)) : "";
    response.deferred = [inner = std::move(response.deferred), counters = served.requests,
                         traffic = served.traffic, path = std::move(path),
                         head = request.method == "HEAD"] {
      http::Response answer = inner();
      counters->Count(answer.status);
      if (traffic != nullptr) traffic->Record(path, answer.status, head ? 0 : answer.BodySize());
      return answer;
    };
    return;
  }
  served.requests->Count(response.status);
  if (served.traffic != nullptr) {
    served.traffic->Record(RequestPath(request), response.status, SentBytes(request, response));
  }
}

Result<http::Response> Edge::ServeImpl(http::Request& request, bool memory_only,
                                       const std::string& rewritten_from, ServedSite* served) {
  // Reused from request to request on this thread; read only here, before anything that may
  // serve another request (a rewrite to another site) on this thread.
  thread_local std::string host;
  request.HostNameTo(host);
  auto resolved = ResolveDeploy(host, memory_only);
  if (!resolved.ok()) {
    if (resolved.error().code != ErrorCode::kNotFound) return std::move(resolved).error();
    return PlainNotFound();
  }
  // A custom domain that only redirects to its pair has no site in hand (and no counters).
  if (!resolved->redirect_to.empty()) return RedirectToPrimary(request, resolved->redirect_to);
  if (served != nullptr) {
    served->hsts = resolved->site->hsts;
    served->requests = resolved->site->requests;
    served->traffic = resolved->site->traffic;
  }
  if (rewritten_from.empty()) {
    if (auto redirect = HttpsRedirect(request, *resolved->site)) return std::move(*redirect);
  }
  const std::string& deploy_id = resolved->DeployId();
  if (!rewritten_from.empty()) {
    // Netlify refuses rewrites between sites of different teams.
    if (memory_only) return WouldBlock();
    RD_TRY(bool same_account, SameAccount(rewritten_from, resolved->site->site_id));
    if (!same_account) return BadGateway("rewrite to a site of another account");
  }

  auto path =
      NormalizeRequestPath(std::string_view(request.target).substr(0, request.target.find('?')));
  if (!path.ok()) {
    return http::Response::Text(400, "Bad Request: " + path.error().message + "\n");
  }
  const deploys::PasswordScope scope = resolved->site->password_scope;
  const bool protected_deploy =
      scope == deploys::PasswordScope::kAll ||
      (scope == deploys::PasswordScope::kNonProduction && !resolved->production);
  if (protected_deploy) {
    RD_TRY(auto answer, GuardSitePassword(request, *resolved->site, *path, memory_only));
    if (answer) return std::move(*answer);
  }

  // Skew protection: a visitor's cookie may pin an earlier deploy of the site's own address
  // (never a deploy URL, never a rewrite from another site), for what it answers with a file
  // other than HTML or a function; the live deploy answers the rest.
  const bool skew_protected =
      resolved->production && rewritten_from.empty() && resolved->site->skew_protection_seconds > 0;
  const std::string* pinned = skew_protected ? PinnedDeploy(request, *resolved->site) : nullptr;
  std::shared_ptr<const deploys::DeployManifest> manifest_ptr;
  std::shared_ptr<const DeployRules> rules;
  std::optional<Route> pinned_route;
  if (pinned != nullptr) {
    auto pinned_manifest = ManifestFor(*pinned, memory_only);
    if (!pinned_manifest.ok() && IsWouldBlock(pinned_manifest.error())) {
      return std::move(pinned_manifest).error();
    }
    if (pinned_manifest.ok()) {
      RD_TRY(auto pinned_rules, RulesFor(**pinned_manifest, memory_only));
      pinned_route = RouteRequest(**pinned_manifest, *pinned_rules, request, *path);
      if (SkewPinnable(*pinned_route)) {
        manifest_ptr = std::move(pinned_manifest).value();
        rules = std::move(pinned_rules);
      } else {
        pinned_route.reset();
      }
    }
    if (!manifest_ptr) pinned = nullptr;
  }
  if (!manifest_ptr) {
    auto loaded = ManifestFor(deploy_id, memory_only);
    if (!loaded.ok()) {
      if (IsWouldBlock(loaded.error())) return std::move(loaded).error();
      return PlainNotFound();
    }
    manifest_ptr = std::move(loaded).value();
    RD_TRY(rules, RulesFor(*manifest_ptr, memory_only));
  }
  const deploys::DeployManifest& manifest = *manifest_ptr;
  const Route route =
      pinned_route ? std::move(*pinned_route) : RouteRequest(manifest, *rules, request, *path);
  // What skew protection adds to the answer: Vary: Cookie always; the cookie on an HTML answer
  // of the live deploy; no shared caching of what the cookie pinned or of a Set-Cookie.
  std::string skew_cookie;
  if (skew_protected && pinned == nullptr && route.kind == Route::Kind::kFile &&
      IsHtml(route.entry->content_type)) {
    skew_cookie = SkewProtectionSetCookie(manifest.deploy_id,
                                          resolved->site->skew_protection_seconds, request.secure);
  }
  const auto finish = [&](http::Response& answer) {
    if (skew_protected) AddSkewProtection(answer, pinned != nullptr, skew_cookie);
  };
  http::Response response;
  switch (route.kind) {
    case Route::Kind::kRedirect:
      response.status = route.status;
      response.headers.Set("Location", route.location);
      response.headers.Set("Cache-Control", std::string(kDefaultCacheControl));
      if (route.decision.kind == RuleDecision::Kind::kRedirect) {
        response.headers.Set("Content-Type", "text/plain; charset=utf-8");
        response.body = "Redirecting to " + route.location + "\n";
      }
      break;
    case Route::Kind::kProxy: {
      // A rewrite to another site of the platform is served here, as Netlify serves a 200 rule
      // to another Netlify site; like Netlify, one hop only.
      if (std::optional<http::Request> inner = PlatformRequest(request, route.decision)) {
        if (!rewritten_from.empty()) return BadGateway("a second rewrite between sites");
        return ServeImpl(*inner, memory_only, resolved->site->site_id);
      }
      if (memory_only) return WouldBlock();
      // The other origin may take up to proxy_timeout: that wait belongs on the server's slow
      // pool, where it cannot hold up the edge's other requests.
      http::Response deferred;
      deferred.deferred = [this, forwarded = request, decision = route.decision,
                           deploy_id = manifest.deploy_id, protected_deploy] {
        http::Response proxied = Proxy(forwarded, decision);
        proxied.headers.Set("X-RepliDeploy-Deploy", deploy_id);
        if (protected_deploy) proxied.headers.Set("Cache-Control", "private, no-cache");
        return proxied;
      };
      finish(deferred);
      return deferred;
    }
    case Route::Kind::kFunction: {
      if (!invoker_) {
        response = PlainNotFound();
        break;
      }
      // A scheduled function runs on its schedule only: as on Netlify, visitors cannot call it.
      if (!route.function_entry->schedule.empty()) {
        response = http::Response::Error(
            404, "scheduled_function",
            "function " + route.function +
                " is a scheduled function: it runs on its schedule and cannot be called over HTTP");
        break;
      }
      if (memory_only) return WouldBlock();
      http::Response deferred;
      deferred.deferred = [this,
                           call = FunctionCall{request, *path, route.function,
                                               route.function_entry->sha256, manifest.deploy_id,
                                               resolved->site->site_id, resolved->site_name,
                                               resolved->production, route.params,
                                               resolved->site->function_timeout_seconds},
                           headers = route.headers, protected_deploy] {
        http::Response answer = invoker_(call);
        answer.headers.Set("X-RepliDeploy-Deploy", call.deploy_id);
        for (const auto& [name, value] : headers) answer.headers.Set(name, value);
        if (protected_deploy) answer.headers.Set("Cache-Control", "private, no-cache");
        return answer;
      };
      finish(deferred);
      return deferred;
    }
    case Route::Kind::kFile: {
      RD_TRY(response, ServeEntry(request, manifest, *route.entry, route.status, memory_only));
      break;
    }
    case Route::Kind::kNotFound:
      response = PlainNotFound();
      response.status = route.status;
      break;
    case Route::Kind::kUnauthorized:
      response =
          http::Response::Text(401, "Unauthorized: this page needs a user name and password.\n");
      response.headers.Set("WWW-Authenticate",
                           "Basic realm=\"" + request.HostName() + "\", charset=\"UTF-8\"");
      response.headers.Set("Cache-Control", "no-store");
      break;
  }
  // ServeEntry set it already for a file (setting it again would cost two allocations).
  if (response.headers.Get("X-RepliDeploy-Deploy") != manifest.deploy_id) {
    response.headers.Set("X-RepliDeploy-Deploy", manifest.deploy_id);
  }
  for (const auto& [name, value] : route.headers) response.headers.Set(name, value);
  // What a password opens must not be kept by a shared cache (a CDN in front) for others.
  if (protected_deploy) response.headers.Set("Cache-Control", "private, no-cache");
  finish(response);
  return response;
}

}  // namespace replideploy::edge

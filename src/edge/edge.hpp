// The edge: serves sites by Host. Host -> (site, deploy) -> rules -> static file or rule
// target -> response with ETag, Range, precompressed variants and header rules.
//
// Thread-safe. Serve() blocks (database lookups on a cache miss, reading blobs): call it from a
// handler thread. Its answer to a proxy rule or a function route is deferred
// (http::Response::deferred): the server makes the request to the other origin, or runs the
// function, on its slow pool. A proxy rule to another site of the platform (a host under
// base_domain) is not proxied but served here, as that site would answer the rewritten request:
// one hop, between sites of one account (502 otherwise).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"
#include "deploys/deploys.hpp"
#include "deploys/sites.hpp"
#include "deploys/traffic_counters.hpp"
#include "edge/deploy_rules.hpp"
#include "edge/shared_lru.hpp"
#include "http/message.hpp"
#include "store/blob_store.hpp"

namespace replideploy::edge {

struct EdgeOptions {
  std::string base_domain = "localhost";
  // Proxy rules (200 to an absolute URL) may reach loopback, link-local and private addresses.
  bool allow_private_proxy = false;
  std::chrono::milliseconds proxy_timeout{15'000};
  // How long a site's live deploy may be answered from memory. Publishes in this process are
  // seen at once (publish versions), and so are other processes' ones when the roles pass on
  // their change events (PostgreSQL); this bounds how late a change is seen otherwise
  // (--site-cache-ttl-seconds).
  std::chrono::milliseconds site_cache_ttl{1000};
  std::size_t cache_bytes = std::size_t{256} << 20;  // blobs kept in memory
  // Larger blobs are never read into memory: they are sent from the store's file as the client
  // reads them (for stores with local files; others read them per request).
  std::size_t cache_max_blob = std::size_t{2} << 20;
  // Plain-HTTP bodies of at least this many bytes go from the store's file too, with sendfile(2):
  // the kernel then sends the page cache's pages, where a body from memory is copied into the
  // socket first. Smaller ones cost less from memory (one write for head and body); over TLS the
  // bytes are encrypted in user space anyway, so there only cache_max_blob decides.
  std::size_t sendfile_min = std::size_t{64} << 10;
  // Stored files kept open between requests (least recently used closed first), so that a body
  // from a file costs no open(2) or fstat(2) once its file is open: at most `open_files` of them,
  // and at most `open_file_bytes` of file in all, each file counted at no less than
  // open_file_bytes / open_files. The bytes bound what a removed blob (garbage collection, the S3
  // disk cache's eviction) can keep on disk while its file is still open here; a larger file is
  // opened per request.
  std::size_t open_files = 256;
  std::uint64_t open_file_bytes = std::uint64_t{1} << 30;
  // The HTTPS listener's port when it holds a certificate for `host` (exact or wildcard), else
  // nullopt; unset without an HTTPS listener. Must be quick and thread-safe. A site with
  // https_redirect sends plain-HTTP requests for such a host there (301; the port is left out
  // of the URL when it is 443).
  std::function<std::optional<std::uint16_t>(std::string_view host)> https_port_for;
};

// A call of a deploy's function, as the edge routed it (see route.hpp for which paths).
struct FunctionCall {
  http::Request request;  // as received
  std::string path;       // the normalised request path
  std::string function;
  std::string bundle_sha256;  // the function's zip in the blob store
  std::string deploy_id;
  std::string site_id;
  std::string site_name;
  bool production = false;                    // served at the site's own address
  std::map<std::string, std::string> params;  // config.path's named groups (context.params)
  std::int64_t timeout_seconds = 0;           // the site's functions_timeout; 0: the default
};

// A custom domain's answer to "which site is at this host" (wired by the roles to the domains
// service; the edge never sees the database). kNotFound when the host is no custom domain.
struct CustomHost {
  std::string site_id;
  std::string site_name;
  std::string redirect_to;  // the pair's primary: answer 301 there; "" serves the site
};
using CustomHostResolver = std::function<Result<CustomHost>(const std::string& host)>;

// Runs a function call to its end (the functions runtime, wired by the roles). Called on the
// server's slow pool; blocks.
using FunctionInvoker = std::function<http::Response(const FunctionCall&)>;

// The key authorization to answer at /.well-known/acme-challenge/<token> (an HTTP-01
// challenge in progress), or nullopt. Wired by the roles over domains/; may block.
using AcmeChallengeLookup = std::function<std::optional<std::string>(std::string_view token)>;
inline constexpr std::string_view kAcmeChallengePrefix = "/.well-known/acme-challenge/";

// Skew protection (a site setting, docs/edge.md): HTML answers of the site's published deploy
// set this cookie to the deploy's id, for the site's window; a request of the site's own
// address that carries the id of a deploy that was live within the window gets that deploy's
// answer when it is a file other than HTML, or a function call. Anything else (an unknown id,
// another site's deploy, one older than the window) is ignored: the live deploy answers.
inline constexpr std::string_view kSkewProtectionCookie = "__rd_dpl";

class Edge {
 public:
  Edge(deploys::SiteService& sites, deploys::DeployService& deploys, store::BlobStore& blobs,
       EdgeOptions options);

  http::Response Serve(http::Request& request);

  // The same answer, but only when everything it needs is already in memory (the site's live
  // deploy, its manifest and rules, the file's bytes): never blocks, so the server may call it
  // on an I/O thread. Nullopt means "ask Serve".
  std::optional<http::Response> TryServeFromMemory(http::Request& request);

  // Without an invoker, function routes answer 404 (a role that runs no functions).
  void SetFunctionInvoker(FunctionInvoker invoker) { invoker_ = std::move(invoker); }
  // With a lookup, GET/HEAD /.well-known/acme-challenge/<token> on any host is answered from it
  // before any site, rule or file (404 for an unknown token). Set before serving.
  void SetAcmeChallengeLookup(AcmeChallengeLookup lookup) { acme_lookup_ = std::move(lookup); }

  // With counters, every answer for a site is counted there too (site analytics: path, status,
  // bytes). Set before serving; they must outlive the edge.
  void SetTrafficCounters(deploys::TrafficCounters* counters) { traffic_ = counters; }

  // Drops what is cached about a site's routing (publish, rollback, rename, delete).
  void InvalidateSite(const std::string& site_id);

  // Custom domains: hosts outside base_domain are looked up through `resolver` (set before
  // serving), and the answers cached like sites (site_cache_ttl, misses too).
  void SetCustomHostResolver(CustomHostResolver resolver) {
    custom_host_resolver_ = std::move(resolver);
  }
  // Drops every cached custom host (a domain was added, removed or changed).
  void InvalidateCustomHosts();
  // Drops everything cached about sites and hosts (change events may have been missed).
  void InvalidateAll();

  // For the deploy service: fails a deploy whose rule files cannot be read at all (see
  // DeployRules::Load); otherwise one warning per rule left out, naming file, line and reason.
  static Result<std::vector<deploys::DeployMessage>> ValidateDeploy(
      const deploys::DeployManifest& manifest, store::BlobStore& blobs);

 private:
  struct SiteEntry {
    std::string site_id;
    std::string published_deploy_id;  // empty: nothing published
    std::string password_hash;        // site-wide password (Argon2id); empty: none
    deploys::PasswordScope password_scope = deploys::PasswordScope::kNone;
    bool https_redirect = true;
    bool hsts = false;
    core::metrics::SiteRequests* requests = nullptr;  // this site's counters (never null once read)
    deploys::SiteTraffic* traffic = nullptr;          // its analytics counters, when counted
    std::uint64_t publish_version = 0;                // DeployService::publish_version() when read
    std::chrono::steady_clock::time_point read_at;
    // Skew protection's window (0: off), and the deploys other than the live one that its
    // cookie may pin, each until when (null when none).
    std::int64_t skew_protection_seconds = 0;
    std::int64_t function_timeout_seconds = 0;  // 0: the runtime's default
    struct PinnableDeploy {
      std::string id;
      std::chrono::steady_clock::time_point until;
    };
    std::shared_ptr<const std::vector<PinnableDeploy>> pinnable;
  };
  // The deploy that the request's skew protection cookie pins for `site` (one of its
  // `pinnable` ones, still within its time), or null.
  static const std::string* PinnedDeploy(const http::Request& request, const SiteEntry& site);
  // Reads `site`'s pinnable deploys when its skew protection is on.
  Status ReadPinnableDeploys(SiteEntry& site);
  Result<std::shared_ptr<const deploys::DeployManifest>> ManifestFor(const std::string& deploy_id,
                                                                     bool memory_only);
  // With `memory_only`, every step that would block fails with WouldBlock() instead.
  // `rewritten_from` is the id of the site whose proxy rule rewrote the request to this one (a
  // rewrite to another site of the platform, served here: one hop, within one account), or "".
  // What ServeImpl learnt of the site it answered for, once known.
  struct ServedSite {
    bool hsts = false;
    core::metrics::SiteRequests* requests = nullptr;
    deploys::SiteTraffic* traffic = nullptr;
  };
  // `served` (when given) is filled in once the site is known.
  Result<http::Response> ServeImpl(http::Request& request, bool memory_only,
                                   const std::string& rewritten_from = "",
                                   ServedSite* served = nullptr);
  // Adds HSTS when due and counts the answer in the site's counters (a deferred answer when
  // it is made).
  static void FinishForSite(const http::Request& request, const ServedSite& served,
                            http::Response& response);
  // The 301 to https:// that a plain-HTTP request gets (see EdgeOptions::has_certificate), or
  // nullopt.
  std::optional<http::Response> HttpsRedirect(const http::Request& request,
                                              const SiteEntry& site) const;
  // The request a proxy rule makes of another site of this platform (a host under
  // base_domain), or nullopt when the target is an outside origin.
  std::optional<http::Request> PlatformRequest(const http::Request& request,
                                               const RuleDecision& decision) const;
  Result<bool> SameAccount(const std::string& site_a, const std::string& site_b);
  struct Resolved {
    std::string redirect_to;  // a custom domain that answers 301 to this host (nothing else set)
    std::shared_ptr<const SiteEntry> site;  // null with redirect_to, else never
    std::string deploy_id;                  // set when not `production`
    std::string site_name;
    bool production = false;  // the site's own address (its published deploy)
    // The deploy to serve; the site's published one is not copied per request.
    const std::string& DeployId() const {
      return production ? site->published_deploy_id : deploy_id;
    }
  };
  Result<Resolved> ResolveDeploy(std::string_view host, bool memory_only);
  // Site-wide password protection: nullopt when `request` may go on to the deploy, else the
  // answer (the sign-in page, 401, the sign-in form's result). WouldBlock in memory-only mode
  // when a password must be checked.
  Result<std::optional<http::Response>> GuardSitePassword(const http::Request& request,
                                                          const SiteEntry& site,
                                                          std::string_view path, bool memory_only);
  // Argon2id checks of Basic credentials and the sign-in form, with the ones that passed
  // remembered (by a MAC of hash and password) so that a client sending Basic credentials on
  // every request pays once; at most kMaxPasswordChecks run at a time.
  enum class PasswordCheck { kRight, kWrong, kBusy };
  PasswordCheck CheckSitePassword(const std::string& password_hash, std::string_view password);
  bool RememberedSitePassword(const std::string& password_hash, std::string_view password);
  Result<std::shared_ptr<const SiteEntry>> LookupSite(const std::string& name, bool memory_only);
  // kNotFound when `host` is no custom domain (or no resolver is set).
  Result<CustomHost> LookupCustomHost(const std::string& host, bool memory_only);
  Result<std::shared_ptr<const DeployRules>> RulesFor(const deploys::DeployManifest& manifest,
                                                      bool memory_only);
  Result<std::shared_ptr<const std::string>> ReadBlob(std::string_view sha256,
                                                      store::Variant variant, std::size_t size,
                                                      bool memory_only);
  // The blob's file, open, as a body of its whole size; null when the store has no local file
  // for it. WouldBlock in memory-only mode when it is not open yet.
  Result<std::shared_ptr<http::FileBody>> OpenBlob(std::string_view sha256, store::Variant variant,
                                                   bool memory_only);
  Result<http::Response> ServeEntry(const http::Request& request,
                                    const deploys::DeployManifest& manifest,
                                    const deploys::ManifestEntry& entry, int status,
                                    bool memory_only);
  http::Response Proxy(const http::Request& request, const RuleDecision& decision);

  deploys::SiteService& sites_service_;
  deploys::DeployService& deploys_;
  store::BlobStore& blobs_;
  EdgeOptions options_;
  FunctionInvoker invoker_;  // set before serving
  deploys::TrafficCounters* traffic_ = nullptr;
  AcmeChallengeLookup acme_lookup_;

  // Counts invalidations: an answer read from the database while one happened may be older
  // than it, and is not cached.
  std::atomic<std::uint64_t> invalidations_{0};
  std::mutex sites_mu_;
  // By site name; shared, so that a request takes an entry without copying its strings.
  std::unordered_map<std::string, std::shared_ptr<const SiteEntry>> sites_;

  CustomHostResolver custom_host_resolver_;  // set before serving
  struct CustomHostEntry {
    bool found = false;
    CustomHost host;
    std::chrono::steady_clock::time_point read_at;
  };
  std::mutex custom_hosts_mu_;
  std::unordered_map<std::string, CustomHostEntry> custom_hosts_;  // by host

  // By deploy id: the rules of the 4096 deploys served most recently.
  SharedLru<DeployRules> rules_{4096};

  std::mutex passwords_mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> passwords_ok_;
  int password_checks_running_ = 0;

  // Both keyed by "<sha256><variant suffix>": blob contents (bounded by cache_bytes), and blobs'
  // open files (bounded by open_files and open_file_bytes; see EdgeOptions).
  struct OpenFile {
    core::UniqueFd fd;
    std::uint64_t size = 0;
  };
  SharedLru<std::string> blobs_in_memory_{options_.cache_bytes};
  SharedLru<OpenFile> open_files_{options_.open_file_bytes};
};

}  // namespace replideploy::edge

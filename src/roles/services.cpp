#include "roles/services.hpp"

#include <spdlog/spdlog.h>

#include "edge/edge.hpp"

namespace replideploy::roles {

namespace {

// The operator's resolver (serve checks the setting before this), else the system's.
std::unique_ptr<domains::DnsResolver> DnsResolverFor(const PlatformOptions& options) {
  auto resolver = domains::MakeDnsResolver(options.dns_resolver, options.dns_timeout);
  if (resolver.ok()) return std::move(resolver).value();
  spdlog::error("dns-resolver: {}; using the system's resolver", resolver.error().message);
  return domains::MakeDnsResolver("", options.dns_timeout).value();
}

domains::DomainOptions DomainOptionsOf(const PlatformOptions& options) {
  domains::DomainOptions o = options.domains;
  o.base_domain = options.base_domain;
  return o;
}

}  // namespace

Services::Services(db::Database& database, store::BlobStore& blob_store, const core::Clock& time,
                   const PlatformOptions& options)
    : db(database),
      blobs(blob_store),
      clock(time),
      audit(db, clock),
      users(db, clock, options.users),
      login_throttle(db, clock),
      sites(db, clock),
      deploys(db, blobs, clock, sites, options.deploys),
      env_vars(db, clock, sites, options.env_key.empty() ? std::string(32, '\0') : options.env_key),
      github(db, clock, options.github,
             options.github_key.empty() ? std::string(32, '\1') : options.github_key),
      deliveries(db, clock),
      closed_prs(db, clock),
      queue(db, clock, options.queue),
      build_logs(db),
      builds(sites, deploys, queue, github, deliveries, closed_prs,
             builder::TriggerOptions{options.repos_dir, options.allow_private_git,
                                     options.github.web_url, options.cache_dir}),
      dns_resolver(DnsResolverFor(options)),
      domains(db, clock, *dns_resolver, DomainOptionsOf(options)),
      analytics(db, clock, options.analytics),
      function_logs(db, clock),
      function_stats(db, clock) {
  // Every role that makes deploys (uploads, builds) checks their rule files the edge's way.
  deploys.SetValidator(&edge::Edge::ValidateDeploy);
}

api::ApiServices Services::ForApi() {
  return api::ApiServices{users,
                          audit,
                          login_throttle,
                          sites,
                          deploys,
                          env_vars,
                          github,
                          queue,
                          builds,
                          build_logs,
                          blobs,
                          clock,
                          [this] { return db.Ping(); },
                          domains,
                          analytics,
                          function_logs,
                          function_stats};
}

}  // namespace replideploy::roles

// DNS-01 through a DNS host's HTTP API, for operators whose zone is not behind an RFC 2136
// server (dns_update.hpp):
//
// - acme-dns (github.com/joohoi/acme-dns): CNAME delegation. The operator registers one
//   acme-dns account per name and points `_acme-challenge.<name>` at the account's `fulldomain`
//   by CNAME; the solver POSTs the TXT value to `<api>/update` with the account's X-Api-User /
//   X-Api-Key. The accounts file is lego's format: {"<name>": {"username", "password",
//   "fulldomain", "subdomain"}, ...}. acme-dns keeps the two newest values per account, enough
//   for a wildcard and its apex.
// - Cloudflare API v4: a bearer token with Zone.DNS edit; the zone is found by name
//   (GET /zones?name=), the record created with POST /zones/{zone}/dns_records and deleted by its
//   id.
// - Route 53: ChangeResourceRecordSets (UPSERT of the whole TXT set at the name, so a wildcard
//   and its apex keep both values; DELETE of the last one), waits for the change to be INSYNC,
//   signed with SigV4 (core/sigv4.hpp, service "route53", region us-east-1). The hosted zone is
//   given or found with ListHostedZonesByName.
//
// Every solver returns from Present once `resolver` answers the value among the TXT records at
// `_acme-challenge.<name>` (following a CNAME), polling until `propagation_timeout`. API errors
// come back as kUnavailable "dns_provider_error" with the provider's own message.
//
// Thread-safe. Blocking (libcurl; the certs role calls these from its own thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/sigv4.hpp"
#include "domains/acme_challenges.hpp"
#include "domains/dns_resolver.hpp"

namespace replideploy::domains {

struct DnsProviderOptions {
  std::string provider;  // "acme-dns", "cloudflare" or "route53"
  // The API's base URL. acme-dns: required. Cloudflare: https://api.cloudflare.com/client/v4
  // when empty. Route 53: https://route53.amazonaws.com when empty.
  std::string api_url;
  std::string acme_dns_accounts_file;  // acme-dns
  std::string cloudflare_api_token;    // Cloudflare
  std::string route53_hosted_zone_id;  // Route 53; found by name when empty
  core::SigV4Credentials aws;          // Route 53
  std::string aws_region = "us-east-1";
  std::string ca_bundle;  // for the API's TLS; the system's when empty
  int ttl = 60;
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds poll_interval{2'000};
  std::chrono::milliseconds propagation_timeout{180'000};
};

// Fills what the options leave empty from the environment: CLOUDFLARE_API_TOKEN (or
// CF_DNS_API_TOKEN), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION.
void DnsProviderOptionsFromEnvironment(DnsProviderOptions& options);

// kBadRequest naming what is missing or malformed (an unknown provider, no token, an accounts
// file that does not parse, a URL that is not http(s)).
Result<std::unique_ptr<ChallengeSolver>> MakeDnsProviderSolver(
    DnsProviderOptions options, std::shared_ptr<DnsResolver> resolver);

}  // namespace replideploy::domains

// Custom domains of sites (issue 12; docs/domains.md): the `domains` table's one owner.
//
// A name belongs to one site on the whole platform. Adding "example.com" or "www.example.com"
// also records the other as its pair (unless it is taken), which answers 301 to the one the
// user added; the user may swap them (SetPrimary). A site's primary domain is Netlify's
// `custom_domain`; its other names that do not redirect are `domain_aliases`.
//
// Taking a name that another account holds (verified or still pending) needs a TXT record
// `_replideploy-challenge.<name>` holding the claiming account's token (OwnershipToken): without
// it Add fails kConflict "domain_taken" with the record in the message.
//
// States: pending_dns -> dns_ok by the DNS check (Check, CheckDue); issuing / active / failed
// are set by the certificate work (SetCertificateState).
//
// No HTTP objects; access checks are the caller's (the API checks the site's owner and passes
// the site here). Thread-safe; every call blocks on the database, checks also on DNS.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domains/dns_check.hpp"
#include "domains/dns_resolver.hpp"

namespace replideploy::domains {

enum class DomainState { kPendingDns, kDnsOk, kIssuing, kActive, kFailed };
std::string_view DomainStateName(DomainState state);  // "pending_dns", "dns_ok", ...
Result<DomainState> ParseDomainState(std::string_view name);

struct Domain {
  std::string id;
  std::string site_id;
  std::string account_id;
  std::string name;
  bool primary = false;     // the site's primary domain
  std::string pair_name;    // the other member of an apex/www pair, "" when none
  std::string redirect_to;  // answers 301 to this name, "" when it serves the site
  DomainState state = DomainState::kPendingDns;
  std::string state_reason;
  std::string dns_report;  // JSON of the last check (DnsReportJson), "" before the first
  std::int64_t check_attempts = 0;
  std::optional<std::int64_t> next_check_at;
  std::optional<std::int64_t> verified_at;
  std::string txt_token;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// The site a call acts on (the caller has checked its owner).
struct SiteRef {
  std::string id;
  std::string account_id;
  std::string name;
};

// What the edge needs of a custom host.
struct DomainHost {
  std::string site_id;
  std::string site_name;
  std::string redirect_to;  // "" serves the site
};

struct DomainOptions {
  std::string base_domain = "localhost";
  std::vector<std::string> edge_ipv4;  // --edge-ipv4 (normalised by ParseAddressList)
  std::vector<std::string> edge_ipv6;  // --edge-ipv6
  // Back-off of rechecks while DNS is not right: first, doubling up to max.
  std::chrono::milliseconds recheck_first{30'000};
  std::chrono::milliseconds recheck_max{std::chrono::hours(6)};
  std::int64_t max_domains_per_site = 100;
};

// "a, b,c" -> normalised addresses of `family_name` ("IPv4"/"IPv6"); kBadRequest naming
// `option` for anything else.
Result<std::vector<std::string>> ParseAddressList(std::string_view list, bool ipv6,
                                                  std::string_view option);

class DomainService {
 public:
  // `resolver` outlives the service.
  DomainService(db::Database& db, const core::Clock& clock, DnsResolver& resolver,
                DomainOptions options);

  // Called after any change that alters which host serves what (set once, at start-up).
  void SetChangeListener(std::function<void()> listener) { on_change_ = std::move(listener); }
  const DomainOptions& options() const { return options_; }

  // Adds `name` (normalised) to `site`, and its apex/www pair when free. The first domain of
  // a site becomes its primary. Errors: kUnprocessable "invalid_domain"; kConflict
  // "domain_exists" (on this or another site of the account), "domain_taken" (another account;
  // the message says which TXT record proves ownership), kUnprocessable "too_many_domains";
  // kUnavailable when DNS must be asked and does not answer. Returns the added domain.
  Result<Domain> Add(const SiteRef& site, std::string_view name);
  // The site's domains, primary first, then by name.
  Result<std::vector<Domain>> List(std::string_view site_id);
  // kNotFound when the site has no such domain.
  Result<Domain> Get(std::string_view site_id, std::string_view name);
  // Removes one name. Its pair stays, and stops redirecting; a removed primary passes to the
  // pair (else to the oldest other domain).
  Status Delete(std::string_view site_id, std::string_view name);
  // Makes `name` the site's primary; its pair (if any) now redirects to it.
  Result<Domain> SetPrimary(std::string_view site_id, std::string_view name);
  // Netlify's site fields: the primary (nullopt: none) and the names that serve the site
  // without redirecting.
  struct SiteDomains {
    std::optional<std::string> custom_domain;
    std::vector<std::string> domain_aliases;
  };
  Result<SiteDomains> ForSite(std::string_view site_id);
  // Netlify's PATCH of custom_domain ("" or null removes it) and domain_aliases (the whole
  // list; names not listed are removed, except the primary and pair members that redirect).
  Status SetNetlifyDomains(const SiteRef& site, const std::optional<std::string>& custom_domain,
                           bool custom_domain_given,
                           const std::optional<std::vector<std::string>>& aliases);

  // The records to create for `domain` of site `site_name`.
  std::vector<DnsInstruction> Instructions(const Domain& domain, std::string_view site_name) const;
  // The token this account's TXT ownership record holds for `name`.
  static std::string OwnershipToken(std::string_view account_id, std::string_view name);

  // Checks DNS now (the API's "check now"), records the report and moves the state.
  Result<Domain> Check(std::string_view site_id, std::string_view name);
  // Checks up to `limit` pending domains whose next_check_at has come (the background checker);
  // one process checks a domain at a time. Returns how many were checked.
  Result<int> CheckDue(int limit);

  // The edge's question: which site a custom host serves. kNotFound when none.
  Result<DomainHost> FindHost(std::string_view host);

  // For the certificate work: domains whose DNS is right and that have no certificate work yet
  // (state dns_ok), oldest first.
  Result<std::vector<Domain>> DomainsReadyForCertificate();
  // Sets issuing, active or failed (with a reason for people); kUnprocessable for the DNS
  // states, kNotFound for an unknown name.
  Status SetCertificateState(std::string_view name, DomainState state, std::string_view reason);

 private:
  Result<std::optional<Domain>> FindByName(std::string_view name);
  // Delete; with `promote`, a removed primary passes on (else the site is left without one).
  Status DeleteDomain(std::string_view site_id, std::string_view name, bool promote);
  Result<Domain> CheckDomain(const Domain& domain, const std::string& site_name);
  DnsTarget TargetFor(std::string_view name, std::string_view site_name) const;
  std::int64_t NextCheckDelay(std::int64_t attempts) const;
  Status Insert(db::Session& s, const SiteRef& site, const std::string& name, bool primary,
                const std::string& pair_name, const std::string& redirect_to);
  void Changed();

  db::Database& db_;
  const core::Clock& clock_;
  DnsResolver& resolver_;
  DomainOptions options_;
  std::function<void()> on_change_;
};

}  // namespace replideploy::domains

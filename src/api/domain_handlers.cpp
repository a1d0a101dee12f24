// Custom domains of a site (issue 12; docs/domains.md): /api/v1/sites/{site_id}/domains.
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/json_input.hpp"
#include "core/clock.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

json::value OptionalTime(const std::optional<std::int64_t>& millis) {
  if (!millis) return nullptr;
  return json::value(core::FormatIso8601(*millis));
}

json::value OptionalName(const std::string& name) {
  if (name.empty()) return nullptr;
  return json::value(name);
}

json::object DomainJson(const App& app, const domains::Domain& d, const std::string& site_name) {
  json::array records;
  for (const auto& i : app.domains().Instructions(d, site_name)) {
    records.push_back(json::object{{"name", i.name}, {"type", i.type}, {"value", i.value}});
  }
  json::value report = nullptr;
  if (!d.dns_report.empty()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(d.dns_report, ec);
    if (!ec) report = std::move(parsed);
  }
  return json::object{
      {"id", d.id},
      {"name", d.name},
      {"site_id", d.site_id},
      {"primary", d.primary},
      {"pair", OptionalName(d.pair_name)},
      {"redirect_to", OptionalName(d.redirect_to)},
      {"state", domains::DomainStateName(d.state)},
      {"state_reason", d.state_reason},
      {"check_attempts", d.check_attempts},
      {"next_check_at", OptionalTime(d.next_check_at)},
      {"verified_at", OptionalTime(d.verified_at)},
      {"dns_records", std::move(records)},
      {"dns_report", std::move(report)},
      {"ownership_record", json::object{{"name", domains::OwnershipRecordName(d.name)},
                                        {"type", "TXT"},
                                        {"value", d.txt_token}}},
      {"created_at", core::FormatIso8601(d.created_at)},
      {"updated_at", core::FormatIso8601(d.updated_at)},
  };
}

domains::SiteRef RefOf(const deploys::Site& site) {
  return domains::SiteRef{site.id, site.account_id, site.name};
}

// Netlify lets clients address a site by id, by name, or by its full host name.
std::string SiteParam(const App& app, const std::string& raw) {
  const std::string suffix = "." + app.options().base_domain;
  if (raw.size() > suffix.size() && raw.ends_with(suffix)) {
    return raw.substr(0, raw.size() - suffix.size());
  }
  return raw;
}

// The site of the path, if `user` owns it (kNotFound otherwise, like a missing one).
Result<deploys::Site> OwnedSite(App& app, const std::string& user_id, http::Request& req) {
  return app.sites().Get(user_id, SiteParam(app, req.path_params["site_id"]));
}

}  // namespace

void AddDomainRoutes(http::Router& router, App& app) {
  router.Add("POST", "/api/v1/sites/{site_id}/domains",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::string name, RequiredString(body, "name"));
               RD_TRY(deploys::Site site, OwnedSite(app, who.user.id, req));
               RD_TRY(domains::Domain domain, app.domains().Add(RefOf(site), name));
               app.RecordAudit(
                   who, req, "domain.added", site.id,
                   {{"site", site.name}, {"domain", domain.name}, {"pair", domain.pair_name}});
               return JsonResponse(201, DomainJson(app, domain, site.name));
             }),
             kSlowRoute);  // a takeover asks DNS for the TXT record

  router.Add("GET", "/api/v1/sites/{site_id}/domains",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               RD_TRY(deploys::Site site, OwnedSite(app, user.id, req));
               RD_TRY(std::vector<domains::Domain> all, app.domains().List(site.id));
               json::array out;
               for (const auto& d : all) out.push_back(DomainJson(app, d, site.name));
               return JsonResponse(200, out);
             }));

  router.Add("GET", "/api/v1/sites/{site_id}/domains/{name}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               RD_TRY(deploys::Site site, OwnedSite(app, user.id, req));
               RD_TRY(domains::Domain d, app.domains().Get(site.id, req.path_params["name"]));
               return JsonResponse(200, DomainJson(app, d, site.name));
             }));

  router.Add("DELETE", "/api/v1/sites/{site_id}/domains/{name}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(deploys::Site site, OwnedSite(app, who.user.id, req));
               RD_TRY(domains::Domain d, app.domains().Get(site.id, req.path_params["name"]));
               RD_TRY_STATUS(app.domains().Delete(site.id, d.name));
               app.RecordAudit(who, req, "domain.removed", site.id,
                               {{"site", site.name}, {"domain", d.name}});
               http::Response r;
               r.status = 204;
               return r;
             }));

  router.Add("PATCH", "/api/v1/sites/{site_id}/domains/{name}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::optional<bool> primary, OptionalBool(body, "primary"));
               if (!primary || !*primary) {
                 return Unprocessable("invalid_primary",
                                      "send {\"primary\": true} to make this the site's primary "
                                      "domain (to change it, make another one primary)");
               }
               RD_TRY(deploys::Site site, OwnedSite(app, who.user.id, req));
               RD_TRY(domains::Domain d,
                      app.domains().SetPrimary(site.id, req.path_params["name"]));
               app.RecordAudit(who, req, "domain.primary_set", site.id,
                               {{"site", site.name}, {"domain", d.name}});
               return JsonResponse(200, DomainJson(app, d, site.name));
             }));

  // "Check now": asks DNS at once (the background checker backs off).
  router.Add("POST", "/api/v1/sites/{site_id}/domains/{name}/check",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kSites));
               RD_TRY(deploys::Site site, OwnedSite(app, user.id, req));
               RD_TRY(domains::Domain d, app.domains().Check(site.id, req.path_params["name"]));
               return JsonResponse(200, DomainJson(app, d, site.name));
             }),
             kSlowRoute);
}

}  // namespace replideploy::api

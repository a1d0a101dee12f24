// Sites in Netlify's API shape: /api/v1/sites and /api/v1/sites/{site_id}.
#include <boost/json.hpp>
#include <filesystem>

#include "api/app.hpp"
#include "api/json_input.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "domains/hostname.hpp"

namespace replideploy::api {

namespace json = boost::json;

json::object SiteJson(const App& app, const deploys::Site& s) {
  const std::string url = app.SiteUrl(s.name);
  const deploys::BuildSettings& b = s.build_settings;
  json::object o{
      {"id", s.id},
      {"site_id", s.id},
      {"name", s.name},
      {"url", url},
      {"ssl_url", url},
      {"admin_url", app.ControlUrl("/sites/" + s.name)},
      {"state", "current"},
      {"account_id", s.account_id},
      {"account_slug", s.account_slug},
      {"custom_domain", nullptr},
      {"created_at", core::FormatIso8601(s.created_at)},
      {"updated_at", core::FormatIso8601(s.updated_at)},
      {"build_settings",
       {{"cmd", b.cmd},
        {"dir", b.dir},
        {"base", b.base},
        {"repo_url", b.repo_url},
        {"repo_branch", b.repo_branch},
        {"functions_dir", b.functions_dir},
        {"provider", b.provider},
        {"repo_path", b.repo_path},
        {"branch_deploys", b.branch_deploys},
        {"deploy_previews", b.deploy_previews}}},
      {"published_deploy", nullptr},
      {"git_remote_url", app.PublicUrl("/git/" + s.name + ".git")},
  };
  if (s.published_deploy_id) {
    // netlify-cli's `deploy --prod` refuses, and --prod-if-unlocked drafts, when it is locked.
    o["published_deploy"] = json::object{{"id", *s.published_deploy_id}, {"locked", s.locked}};
  }
  // Netlify's custom domain fields: the primary and the names that serve the site too (the
  // member of an apex/www pair that redirects is in neither, as with Netlify).
  json::array aliases;
  if (auto domains = app.domains().ForSite(s.id); domains.ok()) {
    if (domains->custom_domain) o["custom_domain"] = *domains->custom_domain;
    for (const auto& alias : domains->domain_aliases) aliases.emplace_back(alias);
  }
  o["domain_aliases"] = std::move(aliases);
  // Netlify's field, and which deploys the password guards ("none" without one).
  o["has_password"] = s.password_scope != deploys::PasswordScope::kNone;
  o["password_scope"] = deploys::PasswordScopeName(s.password_scope);
  // HTTPS policy: redirect plain HTTP once a certificate is active; HSTS on HTTPS answers.
  o["https_redirect"] = s.https_redirect;
  o["hsts"] = s.hsts;
  // Skew protection (docs/edge.md): on or off, and its window in seconds (0 when off).
  o["skew_protection"] = s.skew_protection_seconds > 0;
  o["skew_protection_max_age"] = s.skew_protection_seconds;
  // Synchronous function calls' timeout in seconds; 0: the server's default (10 s).
  o["functions_timeout"] = s.function_timeout_seconds;
  return o;
}

namespace {

// An integer field: absent or null -> nullopt; anything else but a whole number is a
// kBadRequest naming the field.
Result<std::optional<std::int64_t>> OptionalInteger(const json::object& obj,
                                                    std::string_view field) {
  const json::value* v = obj.if_contains(field);
  if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(v->as_uint64()));
  }
  return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be a whole number");
}

// Reads the writable fields of a site from a create or update body. Unknown fields are ignored,
// as Netlify does (its clients send more than we keep).
Result<deploys::SitePatch> ReadSitePatch(const json::object& body) {
  deploys::SitePatch patch;
  RD_TRY(patch.name, OptionalString(body, "name"));
  RD_TRY(patch.https_redirect, OptionalBool(body, "https_redirect"));
  RD_TRY(patch.hsts, OptionalBool(body, "hsts"));
  RD_TRY(patch.skew_protection, OptionalBool(body, "skew_protection"));
  RD_TRY(patch.skew_protection_seconds, OptionalInteger(body, "skew_protection_max_age"));
  RD_TRY(patch.function_timeout_seconds, OptionalInteger(body, "functions_timeout"));
  RD_TRY(const json::object* settings, OptionalObject(body, "build_settings"));
  // Netlify also accepts "repo" for the same settings.
  if (settings == nullptr) {
    RD_TRY(settings, OptionalObject(body, "repo"));
  }
  if (settings != nullptr) {
    const std::string_view prefix = "build_settings.";
    RD_TRY(patch.cmd, OptionalString(*settings, "cmd", prefix));
    RD_TRY(patch.dir, OptionalString(*settings, "dir", prefix));
    RD_TRY(patch.base, OptionalString(*settings, "base", prefix));
    RD_TRY(patch.repo_url, OptionalString(*settings, "repo_url", prefix));
    RD_TRY(patch.repo_branch, OptionalString(*settings, "repo_branch", prefix));
    RD_TRY(patch.functions_dir, OptionalString(*settings, "functions_dir", prefix));
    RD_TRY(patch.branch_deploys, OptionalBool(*settings, "branch_deploys", prefix));
    RD_TRY(patch.deploy_previews, OptionalBool(*settings, "deploy_previews", prefix));
    RD_TRY(patch.provider, OptionalString(*settings, "provider", prefix));
    RD_TRY(patch.repo_path, OptionalString(*settings, "repo_path", prefix));
    // Netlify's create-site body names the repository "repo" and the branch "branch".
    if (!patch.repo_path) {
      RD_TRY(patch.repo_path, OptionalString(*settings, "repo", prefix));
    }
    if (!patch.repo_branch) {
      RD_TRY(patch.repo_branch, OptionalString(*settings, "branch", prefix));
    }
  }
  return patch;
}

json::object SiteAuditDetails(const deploys::Site& site) { return {{"name", site.name}}; }

// Netlify's custom_domain (a name, or null/"" for none) and domain_aliases (a list of names)
// on a site update, each checked before anything changes.
struct NetlifyDomainsPatch {
  bool custom_domain_given = false;
  std::optional<std::string> custom_domain;
  std::optional<std::vector<std::string>> aliases;
};

Result<NetlifyDomainsPatch> ReadNetlifyDomains(const App& app, const json::object& body) {
  NetlifyDomainsPatch patch;
  if (const json::value* v = body.if_contains("custom_domain")) {
    patch.custom_domain_given = true;
    if (!v->is_null() && !v->is_string()) {
      return MakeError(ErrorCode::kBadRequest, "custom_domain must be a string or null");
    }
    if (v->is_string() && !v->as_string().empty()) {
      RD_TRY(patch.custom_domain,
             domains::NormalizeDomainName(std::string(v->as_string()), app.options().base_domain));
    }
  }
  if (const json::value* v = body.if_contains("domain_aliases"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) {
      return MakeError(ErrorCode::kBadRequest, "domain_aliases must be an array of strings");
    }
    std::vector<std::string> names;
    for (const json::value& item : v->as_array()) {
      if (!item.is_string()) {
        return MakeError(ErrorCode::kBadRequest, "domain_aliases must be an array of strings");
      }
      RD_TRY(std::string name, domains::NormalizeDomainName(std::string(item.as_string()),
                                                            app.options().base_domain));
      names.push_back(std::move(name));
    }
    patch.aliases = std::move(names);
  }
  return patch;
}

// The top-level fields (and build settings) a change named, for the audit log; never values.
json::array ChangedFields(const json::object& body) {
  json::array out;
  for (const auto& [key, value] : body) {
    if (value.is_object()) {
      for (const auto& inner : value.as_object()) {
        out.emplace_back(std::string(key) + "." + std::string(inner.key()));
      }
    } else {
      out.emplace_back(key);
    }
  }
  return out;
}

// Netlify lets clients address a site by id, by name, or by its full host name.
std::string SiteRef(const App& app, const std::string& raw) {
  const std::string suffix = "." + app.options().base_domain;
  if (raw.size() > suffix.size() && raw.ends_with(suffix)) {
    return raw.substr(0, raw.size() - suffix.size());
  }
  return raw;
}

constexpr std::size_t kMaxSitePasswordBytes = 256;

// Hashes and stores a site-wide password ("all" deploys when `scope_name` is empty).
Result<deploys::Site> SetSitePassword(App& app, const auth::Principal& who,
                                      const http::Request& req, const deploys::Site& site,
                                      const std::string& password, const std::string& scope_name) {
  if (password.empty()) {
    return Unprocessable("invalid_password", "password must not be empty");
  }
  if (password.size() > kMaxSitePasswordBytes || password.find('\0') != std::string::npos) {
    return Unprocessable("invalid_password",
                         "password must be at most 256 bytes, without NUL characters");
  }
  RD_TRY(deploys::PasswordScope scope,
         deploys::ParsePasswordScope(scope_name.empty() ? "all" : scope_name));
  RD_TRY(std::string hash, core::HashPassword(password, app.users().password_cost()));
  RD_TRY_STATUS(app.sites().SetPassword(site.id, hash, scope));
  app.RecordAudit(who, req, "site.password_set", site.id,
                  {{"name", site.name}, {"scope", deploys::PasswordScopeName(scope)}});
  return app.sites().GetById(site.id);
}

}  // namespace

void AddSiteRoutes(http::Router& router, App& app) {
  router.Add("POST", "/api/v1/sites", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(json::object body, ParseJsonObject(req.body, /*empty_ok=*/true));
               RD_TRY(deploys::SitePatch patch, ReadSitePatch(body));
               RD_TRY(deploys::Site site, CreateSite(app, who.user, patch));
               app.RecordAudit(who, req, "site.created", site.id, SiteAuditDetails(site));
               return JsonResponse(201, SiteJson(app, site));
             }),
             kSlowRoute);

  router.Add("GET", "/api/v1/sites", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               const std::string filter = req.QueryParam("name").value_or("");
               RD_TRY(std::vector<deploys::Site> sites, app.sites().List(user.id, filter));
               json::array out;
               for (const auto& s : sites) out.push_back(SiteJson(app, s));
               return JsonResponse(200, out);
             }));

  router.Add("GET", "/api/v1/sites/{site_id}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               RD_TRY(deploys::Site site,
                      app.sites().Get(user.id, SiteRef(app, req.path_params["site_id"])));
               return JsonResponse(200, SiteJson(app, site));
             }));

  auto update = Handle([&app](http::Request& req) -> Result<http::Response> {
    RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
    RD_TRY(json::object body, ParseJsonObject(req.body));
    RD_TRY(deploys::SitePatch patch, ReadSitePatch(body));
    if (patch.provider || patch.repo_path || patch.repo_url) {
      return Unprocessable("repo_immutable",
                           "a site's repository cannot be changed; create a new site for it");
    }
    // Netlify's update-site call sets the site-wide password with "password" ("" removes it).
    RD_TRY(std::optional<std::string> password, OptionalString(body, "password"));
    body.erase("password");
    RD_TRY(NetlifyDomainsPatch domain_patch, ReadNetlifyDomains(app, body));
    RD_TRY(deploys::Site site,
           app.sites().Update(who.user.id, SiteRef(app, req.path_params["site_id"]), patch));
    if (domain_patch.custom_domain_given || domain_patch.aliases) {
      RD_TRY_STATUS(app.domains().SetNetlifyDomains(
          domains::SiteRef{site.id, site.account_id, site.name}, domain_patch.custom_domain,
          domain_patch.custom_domain_given, domain_patch.aliases));
    }
    if (!body.empty() || !password) {
      json::object details = SiteAuditDetails(site);
      details["changed"] = ChangedFields(body);
      app.RecordAudit(who, req, "site.updated", site.id, details);
    }
    if (password && password->empty()) {
      RD_TRY_STATUS(app.sites().ClearPassword(site.id));
      app.RecordAudit(who, req, "site.password_removed", site.id, SiteAuditDetails(site));
      RD_TRY(site, app.sites().GetById(site.id));
    } else if (password) {
      RD_TRY(site, SetSitePassword(app, who, req, site, *password, ""));
    }
    return JsonResponse(200, SiteJson(app, site));
  });
  router.Add("PATCH", "/api/v1/sites/{site_id}", update);
  router.Add("PUT", "/api/v1/sites/{site_id}", update);

  // Site-wide password protection: {"password": "...", "scope": "all" | "non_production"}.
  router.Add("PUT", "/api/v1/sites/{site_id}/password",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::optional<std::string> password, OptionalString(body, "password"));
               RD_TRY(std::optional<std::string> scope, OptionalString(body, "scope"));
               if (!password) return Unprocessable("invalid_password", "password is required");
               RD_TRY(deploys::Site site,
                      app.sites().Get(who.user.id, SiteRef(app, req.path_params["site_id"])));
               RD_TRY(site, SetSitePassword(app, who, req, site, *password, scope.value_or("")));
               return JsonResponse(200, SiteJson(app, site));
             }),
             kSlowRoute);
  router.Add("DELETE", "/api/v1/sites/{site_id}/password",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(deploys::Site site,
                      app.sites().Get(who.user.id, SiteRef(app, req.path_params["site_id"])));
               RD_TRY_STATUS(app.sites().ClearPassword(site.id));
               app.RecordAudit(who, req, "site.password_removed", site.id, SiteAuditDetails(site));
               http::Response r;
               r.status = 204;
               return r;
             }));

  // "Trigger deploy": builds the head of the production branch (Netlify's create-build call).
  router.Add("POST", "/api/v1/sites/{site_id}/builds",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kDeploy));
               RD_TRY(deploys::Site site,
                      app.sites().Get(user.id, SiteRef(app, req.path_params["site_id"])));
               BuildRequest build;
               build.branch = site.build_settings.ProductionBranch();
               build.own_remote = site.build_settings.provider.empty();
               RD_TRY(deploys::Deploy deploy, app.builds().QueueBuild(site, build));
               return JsonResponse(
                   201, json::object{{"id", deploy.id},
                                     {"deploy_id", deploy.id},
                                     {"sha", deploy.commit_ref},
                                     {"done", false},
                                     {"error", nullptr},
                                     {"created_at", core::FormatIso8601(deploy.created_at)}});
             }),
             kSlowRoute);

  // "Clear cache": the next build installs from scratch.
  router.Add("DELETE", "/api/v1/sites/{site_id}/cache",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kSites));
               RD_TRY(deploys::Site site,
                      app.sites().Get(user.id, SiteRef(app, req.path_params["site_id"])));
               RD_TRY_STATUS(app.builds().ClearCache(site.id));
               http::Response r;
               r.status = 204;
               return r;
             }));

  router.Add("DELETE", "/api/v1/sites/{site_id}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(deploys::Site site,
                      app.sites().Get(who.user.id, SiteRef(app, req.path_params["site_id"])));
               RD_TRY_STATUS(app.builds().RemoveGithubHook(site));
               RD_TRY_STATUS(app.sites().Delete(who.user.id, site.id));
               app.RecordAudit(who, req, "site.deleted", site.id, SiteAuditDetails(site));
               http::Response r;
               r.status = 204;
               return r;
             }));
}

}  // namespace replideploy::api

// Environment variables. Two faces over one store (deploys::EnvVarService, per site and context):
//   /api/v1/sites/{site}/env                   our own, simple one;
//   /api/v1/accounts/{account}/env?site_id=... Netlify's ("envelope"), used by netlify-cli's
//                                              env:* commands and by @netlify/config.
// Values go to builds and back to the owner only; they are stored encrypted.
#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "api/json_input.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

// Every variable reaches builds, functions and runtime alike: there is one set of scopes.
json::array AllScopes() { return {"builds", "functions", "runtime", "post-processing"}; }

bool KnownScope(std::string_view s) {
  return s == "builds" || s == "functions" || s == "runtime" || s == "post-processing" ||
         s == "post_processing";
}

// One variable in Netlify's shape. A value's id is its context: a variable has one value per
// context here.
json::object EnvVarJson(std::string_view key, json::array values) {
  return {
      {"key", key}, {"scopes", AllScopes()}, {"values", std::move(values)}, {"is_secret", false}};
}

// Groups `vars` (ordered by key) into variables; only values in `context` or "all" when
// `context` is set, and only `key` when that is set.
json::array EnvVarsJson(const std::vector<deploys::EnvVar>& vars, std::string_view context = {},
                        std::string_view key = {}) {
  json::array out;
  for (std::size_t i = 0; i < vars.size();) {
    json::array values;
    std::optional<json::object> all;
    const std::string current = vars[i].key;
    for (; i < vars.size() && vars[i].key == current; ++i) {
      const deploys::EnvVar& v = vars[i];
      if (!context.empty() && v.context != context && v.context != "all") continue;
      json::object value{{"id", v.context}, {"context", v.context}, {"value", v.value}};
      if (v.context == "all") {
        all = std::move(value);
      } else {
        values.push_back(std::move(value));
      }
    }
    // "all" last: netlify-cli takes the first value matching a context or "all", so a
    // context's own value must come before it to win.
    if (all) values.push_back(std::move(*all));
    if (values.empty() || (!key.empty() && current != key)) continue;
    out.push_back(EnvVarJson(current, std::move(values)));
  }
  return out;
}

// What a request names that cannot work here, as a 501 message; empty when nothing.
std::string UnsupportedPart(const json::object& var) {
  if (const json::value* secret = var.if_contains("is_secret");
      secret != nullptr && secret->is_bool() && secret->as_bool()) {
    return "secret environment variables (is_secret) are a Netlify-hosted feature and are not "
           "supported; values here are encrypted at rest and shown only to the site's owner";
  }
  return {};
}

// One value object {"context", "value"[, "context_parameter"]} of variable `key`.
Result<deploys::EnvVar> ReadValue(const json::value& raw, std::string_view key,
                                  std::string_view path) {
  if (!raw.is_object())
    return MakeError(ErrorCode::kBadRequest, std::string(path) + " must be an object");
  const json::object& obj = raw.as_object();
  RD_TRY(std::optional<std::string> context, OptionalString(obj, "context", path));
  RD_TRY(std::optional<std::string> value, OptionalString(obj, "value", path));
  RD_TRY(std::optional<std::string> parameter, OptionalString(obj, "context_parameter", path));
  if (context == "branch" || (parameter && !parameter->empty())) {
    return Unprocessable("branch_values_unsupported",
                         "values for one named branch (context \"branch\") are not supported; "
                         "use the branch-deploy context for every branch");
  }
  return deploys::EnvVar{std::string(key), context.value_or("all"), value.value_or("")};
}

// A variable {"key", "scopes", "values": [...]} as sent to create or replace one. `path` names
// it in messages ("[0].").
Result<std::vector<deploys::EnvVar>> ReadVariable(const json::object& var, std::string_view key,
                                                  const std::string& path) {
  if (const json::value* scopes = var.if_contains("scopes"); scopes && !scopes->is_null()) {
    if (!scopes->is_array()) {
      return MakeError(ErrorCode::kBadRequest, path + "scopes must be an array");
    }
    for (const json::value& s : scopes->as_array()) {
      if (!s.is_string() || !KnownScope(s.as_string())) {
        return Unprocessable("invalid_scope",
                             path + "scopes may hold builds, functions, runtime, post-processing");
      }
    }
  }
  const json::value* values = var.if_contains("values");
  if (values == nullptr || !values->is_array()) {
    return MakeError(ErrorCode::kBadRequest, path + "values must be an array");
  }
  std::vector<deploys::EnvVar> out;
  for (std::size_t i = 0; i < values->as_array().size(); ++i) {
    RD_TRY(deploys::EnvVar v,
           ReadValue(values->as_array()[i], key, path + "values[" + std::to_string(i) + "]."));
    out.push_back(std::move(v));
  }
  return out;
}

// The account in the path must be the caller's; the site comes from ?site_id=. An empty site
// means the account's own (shared) variables, which this server does not keep.
Result<std::string> AccountEnvSite(const http::Request& req, const auth::User& user) {
  const std::string& account = req.path_params.at("account");
  if (account != user.account_slug && account != user.account_id) {
    return MakeError(ErrorCode::kNotFound, "account not found");
  }
  return req.QueryParam("site_id").value_or("");
}

constexpr std::string_view kSharedVarsUnsupported =
    "account-wide (shared) environment variables are a Netlify team feature and are not "
    "supported; pass site_id to work with a site's variables";

http::Response NoContent() {
  http::Response r;
  r.status = 204;
  return r;
}

void AddSiteEnvRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/sites/{site_id}/env",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kSites));
               RD_TRY(auto vars, app.env_vars().List(user.id, req.path_params["site_id"]));
               return JsonResponse(200, EnvVarsJson(vars));
             }));

  router.Add(
      "PUT", "/api/v1/sites/{site_id}/env/{key}",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
        RD_TRY(json::object body, ParseJsonObject(req.body));
        RD_TRY(std::string value, RequiredString(body, "value"));
        RD_TRY(std::optional<std::string> context, OptionalString(body, "context"));
        RD_TRY_STATUS(app.env_vars().Set(who.user.id, req.path_params["site_id"],
                                         req.path_params["key"], value, context.value_or("all")));
        // The key and context only: a value never reaches the audit log.
        app.RecordAudit(
            who, req, "env.updated", req.path_params["site_id"],
            json::object{{"key", req.path_params["key"]}, {"context", context.value_or("all")}});
        return JsonResponse(200, json::object{{"key", req.path_params["key"]},
                                              {"context", context.value_or("all")}});
      }));

  router.Add("DELETE", "/api/v1/sites/{site_id}/env/{key}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY_STATUS(app.env_vars().Delete(who.user.id, req.path_params["site_id"],
                                                   req.path_params["key"]));
               app.RecordAudit(who, req, "env.deleted", req.path_params["site_id"],
                               json::object{{"key", req.path_params["key"]}});
               return NoContent();
             }));
}

// The variable `key` of `site` as it is now, or kNotFound.
Result<json::object> CurrentVariable(App& app, const auth::User& user, const std::string& site,
                                     const std::string& key) {
  RD_TRY(auto vars, app.env_vars().List(user.id, site));
  json::array found = EnvVarsJson(vars, {}, key);
  if (found.empty()) return MakeError(ErrorCode::kNotFound, "no variable " + key + " on this site");
  return std::move(found.front().as_object());
}

void AddAccountEnvRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/accounts/{account}/env",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kSites));
               RD_TRY(std::string site, AccountEnvSite(req, user));
               if (site.empty()) return JsonResponse(200, json::array{});
               RD_TRY(auto vars, app.env_vars().List(user.id, site));
               return JsonResponse(200,
                                   EnvVarsJson(vars, req.QueryParam("context_name").value_or("")));
             }));

  // netlify-cli's env:set (new key) and env:import: an array of variables, all or none.
  router.Add(
      "POST", "/api/v1/accounts/{account}/env",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
        RD_TRY(std::string site, AccountEnvSite(req, who.user));
        if (site.empty()) return NotImplementedResponse(kSharedVarsUnsupported);
        RD_TRY(json::value body, ParseJson(req.body));
        if (!body.is_array()) {
          return MakeError(ErrorCode::kBadRequest, "request body must be an array of variables");
        }
        std::vector<deploys::EnvVar> vars;
        json::array keys;
        for (std::size_t i = 0; i < body.as_array().size(); ++i) {
          const std::string path = "[" + std::to_string(i) + "].";
          const json::value& raw = body.as_array()[i];
          if (!raw.is_object())
            return MakeError(ErrorCode::kBadRequest, path + " must be an object");
          if (std::string why = UnsupportedPart(raw.as_object()); !why.empty()) {
            return NotImplementedResponse(why);
          }
          RD_TRY(std::string key, RequiredString(raw.as_object(), "key", path));
          if (std::find(keys.begin(), keys.end(), json::value(key)) != keys.end()) {
            return Unprocessable("duplicate_key", path + "key " + key + " appears twice");
          }
          RD_TRY(auto values, ReadVariable(raw.as_object(), key, path));
          if (values.empty()) {
            return Unprocessable("invalid_value", path + "values must hold at least one value");
          }
          vars.insert(vars.end(), values.begin(), values.end());
          keys.emplace_back(key);
        }
        RD_TRY_STATUS(app.env_vars().CreateAll(who.user.id, site, vars));
        app.RecordAudit(who, req, "env.updated", site, json::object{{"keys", keys}});
        RD_TRY(auto stored, app.env_vars().List(who.user.id, site));
        json::array created;
        for (const json::value& var : EnvVarsJson(stored)) {
          if (std::find(keys.begin(), keys.end(), var.at("key")) != keys.end()) {
            created.push_back(var);
          }
        }
        return JsonResponse(201, created);
      }));

  router.Add("GET", "/api/v1/accounts/{account}/env/{key}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kSites));
               RD_TRY(std::string site, AccountEnvSite(req, user));
               if (site.empty()) {
                 return MakeError(ErrorCode::kNotFound,
                                  "no account-wide variable " + req.path_params["key"]);
               }
               RD_TRY(json::object var, CurrentVariable(app, user, site, req.path_params["key"]));
               return JsonResponse(200, var);
             }));

  // Replaces the whole variable (netlify-cli's env:set of an existing key).
  router.Add("PUT", "/api/v1/accounts/{account}/env/{key}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(std::string site, AccountEnvSite(req, who.user));
               if (site.empty()) return NotImplementedResponse(kSharedVarsUnsupported);
               const std::string& key = req.path_params["key"];
               RD_TRY(json::object body, ParseJsonObject(req.body));
               if (std::string why = UnsupportedPart(body); !why.empty()) {
                 return NotImplementedResponse(why);
               }
               RD_TRY(std::optional<std::string> new_key, OptionalString(body, "key"));
               if (new_key && *new_key != key) {
                 return Unprocessable("rename_unsupported",
                                      "renaming a variable is not supported; create " + *new_key +
                                          " and delete " + key);
               }
               RD_TRY(auto values, ReadVariable(body, key, ""));
               RD_TRY_STATUS(app.env_vars().Replace(who.user.id, site, key, values));
               app.RecordAudit(who, req, "env.updated", site, json::object{{"key", key}});
               RD_TRY(json::object var, CurrentVariable(app, who.user, site, key));
               return JsonResponse(200, var);
             }));

  // Sets one context's value (netlify-cli's env:set --context).
  router.Add(
      "PATCH", "/api/v1/accounts/{account}/env/{key}",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
        RD_TRY(std::string site, AccountEnvSite(req, who.user));
        if (site.empty()) return NotImplementedResponse(kSharedVarsUnsupported);
        const std::string& key = req.path_params["key"];
        RD_TRY(json::object body, ParseJsonObject(req.body));
        RD_TRY(deploys::EnvVar value, ReadValue(body, key, ""));
        RD_TRY_STATUS(app.env_vars().Set(who.user.id, site, key, value.value, value.context));
        app.RecordAudit(who, req, "env.updated", site,
                        json::object{{"key", key}, {"context", value.context}});
        RD_TRY(json::object var, CurrentVariable(app, who.user, site, key));
        return JsonResponse(201, var);
      }));

  router.Add("DELETE", "/api/v1/accounts/{account}/env/{key}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
               RD_TRY(std::string site, AccountEnvSite(req, who.user));
               if (site.empty()) return NotImplementedResponse(kSharedVarsUnsupported);
               RD_TRY_STATUS(app.env_vars().Delete(who.user.id, site, req.path_params["key"]));
               app.RecordAudit(who, req, "env.deleted", site,
                               json::object{{"key", req.path_params["key"]}});
               return NoContent();
             }));

  // A value's id is its context (see EnvVarJson).
  router.Add(
      "DELETE", "/api/v1/accounts/{account}/env/{key}/value/{id}",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
        RD_TRY(std::string site, AccountEnvSite(req, who.user));
        if (site.empty()) return NotImplementedResponse(kSharedVarsUnsupported);
        const std::string& key = req.path_params["key"];
        RD_TRY_STATUS(app.env_vars().DeleteValue(who.user.id, site, key, req.path_params["id"]));
        app.RecordAudit(who, req, "env.deleted", site,
                        json::object{{"key", key}, {"context", req.path_params["id"]}});
        return NoContent();
      }));
}

}  // namespace

void AddEnvRoutes(http::Router& router, App& app) {
  AddSiteEnvRoutes(router, app);
  AddAccountEnvRoutes(router, app);
}

}  // namespace replideploy::api

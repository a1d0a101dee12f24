// POST /api/v1/sites/{site}/rules/test: what the edge would answer a request for one of the
// site's deploys, and why, rule by rule (edge/explain.hpp; `replideploy rules test`).
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/json_input.hpp"
#include "edge/deploy_rules.hpp"
#include "edge/explain.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxRulesTestBody = 64 * 1024;

Result<std::vector<std::string>> StringArray(const json::object& body, std::string_view field) {
  std::vector<std::string> out;
  const json::value* v = body.if_contains(field);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array())
    return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be an array of strings");
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be an array of strings");
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<edge::ExplainInput> ReadInput(const json::object& body) {
  edge::ExplainInput input;
  RD_TRY(std::optional<std::string> url, OptionalString(body, "url"));
  RD_TRY(std::optional<std::string> path, OptionalString(body, "path"));
  if (!url && !path)
    return MakeError(ErrorCode::kBadRequest, "url is required (a path or an http(s) URL)");
  input.url = url ? *url : *path;
  RD_TRY(std::optional<std::string> method, OptionalString(body, "method"));
  input.method = method.value_or("GET");
  RD_TRY(const json::object* headers, OptionalObject(body, "headers"));
  if (headers != nullptr) {
    for (const auto& item : *headers) {
      if (!item.value().is_string()) {
        return MakeError(ErrorCode::kBadRequest,
                         "headers." + std::string(item.key()) + " must be a string");
      }
      input.headers.emplace_back(std::string(item.key()), std::string(item.value().get_string()));
    }
  }
  RD_TRY(std::optional<std::string> country, OptionalString(body, "country"));
  RD_TRY(std::optional<std::string> language, OptionalString(body, "language"));
  RD_TRY(std::optional<std::string> cookie, OptionalString(body, "cookie"));
  input.country = country.value_or("");
  input.language = language.value_or("");
  input.cookie = cookie.value_or("");
  RD_TRY(input.roles, StringArray(body, "roles"));
  return input;
}

}  // namespace

void AddRulesRoutes(http::Router& router, App& app) {
  router.Add(
      "POST", "/api/v1/sites/{site_id}/rules/test",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
        RD_TRY(deploys::Site site, app.sites().Get(user.id, req.path_params["site_id"]));
        RD_TRY(json::object body, ParseJsonObject(req.body));
        RD_TRY(edge::ExplainInput input, ReadInput(body));
        RD_TRY(std::optional<std::string> deploy_id, OptionalString(body, "deploy_id"));
        std::string id;
        if (deploy_id) {
          RD_TRY(deploys::Deploy deploy, app.deploys().Get(user.id, *deploy_id));
          if (deploy.site_id != site.id) return MakeError(ErrorCode::kNotFound, "deploy not found");
          if (deploy.state != "ready") {
            return MakeError(ErrorCode::kConflict, "deploy " + deploy.id + " is " + deploy.state +
                                                       "; only ready deploys have rules to test");
          }
          id = deploy.id;
        } else if (site.published_deploy_id) {
          id = *site.published_deploy_id;
        } else {
          Error e = MakeError(ErrorCode::kNotFound,
                              "site " + site.name + " has nothing published yet; give deploy_id");
          e.detail_code = "not_published";
          return e;
        }
        RD_TRY(http::Request request,
               edge::BuildExplainRequest(input, site.name + "." + app.options().base_domain));
        RD_TRY(auto manifest, app.deploys().Manifest(id));
        RD_TRY(auto rules, edge::DeployRules::Load(*manifest, app.blobs()));
        std::string explanation = edge::ExplainJson(*manifest, *rules, request, input.roles);
        if (site.password_scope != deploys::PasswordScope::kNone) {
          // The site-wide password comes before every rule: say whether the edge asks for it
          // (every deploy, or all but the published one, which answers on the site's address).
          const bool production = site.published_deploy_id && *site.published_deploy_id == id;
          const bool required = site.password_scope == deploys::PasswordScope::kAll || !production;
          json::value doc = json::parse(explanation);
          doc.as_object()["site_password"] = json::object{
              {"scope", deploys::PasswordScopeName(site.password_scope)}, {"required", required}};
          explanation = json::serialize(doc);
        }
        return http::Response::Json(200, std::move(explanation));
      }),
      {kMaxRulesTestBody});
}

}  // namespace replideploy::api

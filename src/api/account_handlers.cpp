// Accounts and the small endpoints netlify-cli calls around a deploy.
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/json_input.hpp"

namespace replideploy::api {

namespace json = boost::json;

json::object SiteJson(const App& app, const deploys::Site& s);

namespace {

json::object AccountJson(const auth::User& user) {
  return {{"id", user.account_id},
          {"name", user.full_name.empty() ? user.email : user.full_name},
          {"slug", user.account_slug},
          {"type", "personal"},
          {"type_name", "Personal"},
          {"default", true},
          {"owner_ids", json::array{json::value(user.id)}},
          {"roles_allowed", json::array{json::value("Owner")}},
          {"capabilities", json::object{}}};
}

}  // namespace

void AddAccountRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/accounts",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               return JsonResponse(200, json::array{AccountJson(user)});
             }));

  router.Add("GET", "/api/v1/accounts/{account}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               const std::string& account = req.path_params["account"];
               if (account != user.account_slug && account != user.account_id) {
                 return MakeError(ErrorCode::kNotFound, "account not found");
               }
               return JsonResponse(200, AccountJson(user));
             }));

  // Netlify's extension registry, asked (without credentials, outside /api/v1) by the build
  // step of netlify-cli before every deploy. There are no extensions here.
  auto no_extensions = [](http::Request&) { return JsonResponse(200, json::array{}); };
  router.Add("GET", "/api/v1/team/{account}/integrations/installations/meta/{site}", no_extensions);
  router.Add("GET", "/team/{account}/integrations/installations/meta/{site}", no_extensions);
  router.Add("GET", "/site/{site}/integrations/safe", no_extensions);

  // netlify-cli's `sites:create` posts to /{account_slug}/sites.
  router.Add(
      "POST", "/api/v1/{account}/sites",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kSites));
        const auth::User& user = who.user;
        const std::string& account = req.path_params["account"];
        if (account != user.account_slug && account != user.account_id) {
          return MakeError(ErrorCode::kNotFound, "account not found");
        }
        RD_TRY(json::object body, ParseJsonObject(req.body, /*empty_ok=*/true));
        RD_TRY(std::optional<std::string> name, OptionalString(body, "name"));
        RD_TRY(deploys::Site site,
               app.sites().Create(user.id, user.account_id, name, deploys::BuildSettings{}));
        app.RecordAudit(who, req, "site.created", site.id, json::object{{"name", site.name}});
        return JsonResponse(201, SiteJson(app, site));
      }));
}

}  // namespace replideploy::api

// A site's environment variables: /api/v1/sites/{site}/env. Values go to builds and back to the
// owner only; they are stored encrypted.
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/json_input.hpp"

namespace replideploy::api {

namespace json = boost::json;

void AddEnvRoutes(http::Router& router, App& app) {
  router.Add(
      "GET", "/api/v1/sites/{site_id}/env",
      Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kSites));
        RD_TRY(auto vars, app.env_vars().List(user.id, req.path_params["site_id"]));
        json::array out;
        for (std::size_t i = 0; i < vars.size();) {
          json::array values;
          const std::string key = vars[i].key;
          for (; i < vars.size() && vars[i].key == key; ++i) {
            values.push_back(json::object{{"context", vars[i].context}, {"value", vars[i].value}});
          }
          out.push_back(json::object{{"key", key}, {"values", std::move(values)}});
        }
        return JsonResponse(200, out);
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
               http::Response r;
               r.status = 204;
               return r;
             }));
}

}  // namespace replideploy::api

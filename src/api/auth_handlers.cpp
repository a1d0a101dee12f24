// POST /auth/register, POST /auth/login, GET /api/v1/user, and personal API tokens.
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/json_input.hpp"
#include "core/clock.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

json::object UserJson(const auth::User& u) {
  return {{"id", u.id},
          {"uid", u.id},
          {"email", u.email},
          {"full_name", u.full_name},
          {"avatar_url", nullptr},
          {"account_id", u.account_id},
          {"account_slug", u.account_slug},
          {"created_at", core::FormatIso8601(u.created_at)},
          {"updated_at", core::FormatIso8601(u.updated_at)}};
}

json::object TokenJson(const auth::ApiToken& t) {
  json::object o{{"id", t.id}, {"name", t.name}, {"created_at", core::FormatIso8601(t.created_at)}};
  o["last_used_at"] = t.last_used_at ? json::value(core::FormatIso8601(*t.last_used_at)) : nullptr;
  return o;
}

}  // namespace

void AddAuthRoutes(http::Router& router, App& app) {
  router.Add("POST", "/auth/register", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::string email, RequiredString(body, "email"));
               RD_TRY(std::string password, RequiredString(body, "password"));
               RD_TRY(std::optional<std::string> full_name, OptionalString(body, "full_name"));
               RD_TRY(auth::User user,
                      app.users().Register(email, password, full_name.value_or("")));
               return JsonResponse(201, UserJson(user));
             }));

  router.Add(
      "POST", "/auth/login", Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(json::object body, ParseJsonObject(req.body));
        RD_TRY(std::string email, RequiredString(body, "email"));
        RD_TRY(std::string password, RequiredString(body, "password"));
        auth::LoginThrottle& throttle = app.login_throttle();
        if (int wait = throttle.RetryAfterSeconds(req.remote_address); wait > 0) {
          Error e = MakeError(ErrorCode::kRateLimited, "too many failed logins; try again in " +
                                                           std::to_string(wait) + " s");
          e.retry_after_seconds = wait;
          return e;
        }
        auto session = app.users().Login(email, password);
        if (!session.ok()) {
          if (session.error().code == ErrorCode::kUnauthenticated) {
            throttle.RecordFailure(req.remote_address);
          }
          return std::move(session).error();
        }
        throttle.RecordSuccess(req.remote_address);
        return JsonResponse(
            200, json::object{{"token", session->token},
                              {"token_type", "Bearer"},
                              {"expires_at", core::FormatIso8601(session->expires_at * 1000)},
                              {"user", UserJson(session->user)}});
      }));

  router.Add("GET", "/api/v1/user", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
               return JsonResponse(200, UserJson(user));
             }));

  router.Add("POST", "/api/v1/tokens", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::string name, RequiredString(body, "name"));
               RD_TRY(auto created, app.users().CreateApiToken(user.id, name));
               json::object out = TokenJson(created.first);
               out["token"] = created.second;  // shown once, never again
               return JsonResponse(201, out);
             }));

  router.Add("GET", "/api/v1/tokens", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
               RD_TRY(std::vector<auth::ApiToken> tokens, app.users().ListApiTokens(user.id));
               json::array out;
               for (const auto& t : tokens) out.push_back(TokenJson(t));
               return JsonResponse(200, out);
             }));

  router.Add("DELETE", "/api/v1/tokens/{token_id}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req));
               RD_TRY_STATUS(app.users().RevokeApiToken(user.id, req.path_params["token_id"]));
               http::Response r;
               r.status = 204;
               return r;
             }));
}

}  // namespace replideploy::api

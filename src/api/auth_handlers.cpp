// POST /auth/register, POST /auth/login, GET /auth/registration, GET /api/v1/user, personal
// API tokens with scopes and expiry, and invites (POST /api/v1/invites). Logout, the password,
// sessions and the audit log: session_handlers.cpp.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/json_input.hpp"
#include "core/clock.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

constexpr std::int64_t kDayMillis = std::int64_t{24} * 3600 * 1000;
constexpr std::int64_t kMaxTokenDays = 3650;

json::object UserJson(const auth::User& u) {
  return {{"id", u.id},
          {"uid", u.id},
          {"email", u.email},
          {"full_name", u.full_name},
          {"avatar_url", nullptr},
          {"account_id", u.account_id},
          {"account_slug", u.account_slug},
          {"admin", u.is_admin},
          {"created_at", core::FormatIso8601(u.created_at)},
          {"updated_at", core::FormatIso8601(u.updated_at)}};
}

json::object TokenJson(const auth::ApiToken& t) {
  json::object o{{"id", t.id}, {"name", t.name}, {"created_at", core::FormatIso8601(t.created_at)}};
  o["last_used_at"] = t.last_used_at ? json::value(core::FormatIso8601(*t.last_used_at)) : nullptr;
  json::array scopes;
  for (const auto& name : t.scopes.Names()) scopes.emplace_back(name);
  o["scopes"] = std::move(scopes);
  o["expires_at"] = t.expires_at ? json::value(core::FormatIso8601(*t.expires_at)) : nullptr;
  return o;
}

// A new token from the body: "name", optional "scopes" (names) and "expires_in_days" (1 to
// 3650; absent or null: no expiry of its own).
Result<auth::NewApiToken> ReadNewToken(const json::object& body, std::int64_t now) {
  auth::NewApiToken spec;
  RD_TRY(spec.name, RequiredString(body, "name"));
  if (const json::value* scopes = body.if_contains("scopes"); scopes && !scopes->is_null()) {
    if (!scopes->is_array()) {
      return MakeError(ErrorCode::kBadRequest, "scopes must be an array of scope names");
    }
    std::vector<std::string> names;
    for (const auto& v : scopes->as_array()) {
      if (!v.is_string()) {
        return MakeError(ErrorCode::kBadRequest, "scopes must be an array of scope names");
      }
      names.emplace_back(v.as_string());
    }
    RD_TRY(spec.scopes, auth::ParseScopes(names));
  }
  if (const json::value* days = body.if_contains("expires_in_days"); days && !days->is_null()) {
    if (!days->is_int64()) {
      return MakeError(ErrorCode::kBadRequest, "expires_in_days must be a whole number of days");
    }
    if (days->as_int64() < 1 || days->as_int64() > kMaxTokenDays) {
      return Unprocessable("invalid_expiry",
                           "expires_in_days must be from 1 to " + std::to_string(kMaxTokenDays));
    }
    spec.expires_at = now + days->as_int64() * kDayMillis;
  }
  return spec;
}

// An invite's lifetime from the body: "expires_in_hours" (a positive integer), else the default.
Result<std::int64_t> InviteTtlMillis(const json::object& body) {
  const json::value* hours = body.if_contains("expires_in_hours");
  if (hours == nullptr || hours->is_null()) return auth::UserService::kDefaultInviteTtlMillis;
  if (!hours->is_int64() || hours->as_int64() < 1 || hours->as_int64() > 90 * 24) {
    return MakeError(ErrorCode::kBadRequest,
                     "expires_in_hours must be a whole number of hours from 1 to 2160");
  }
  return hours->as_int64() * 3600 * 1000;
}

}  // namespace

Error TooManyLogins(int wait_seconds) {
  Error e = MakeError(ErrorCode::kRateLimited, "too many failed logins; try again in " +
                                                   std::to_string(wait_seconds) + " s");
  e.retry_after_seconds = wait_seconds;
  return e;
}

void AddAuthRoutes(http::Router& router, App& app) {
  router.Add("POST", "/auth/register", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::string email, RequiredString(body, "email"));
               RD_TRY(std::string password, RequiredString(body, "password"));
               RD_TRY(std::optional<std::string> full_name, OptionalString(body, "full_name"));
               RD_TRY(std::optional<std::string> invite, OptionalString(body, "invite"));
               RD_TRY(auth::User user, app.users().Register(email, password, full_name.value_or(""),
                                                            invite.value_or(""), app.Client(req)));
               return JsonResponse(201, UserJson(user));
             }));

  router.Add("POST", "/auth/login", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(std::string email, RequiredString(body, "email"));
               RD_TRY(std::string password, RequiredString(body, "password"));
               auth::LoginThrottle& throttle = app.login_throttle();
               const std::string client = app.ClientAddress(req);
               RD_TRY(int wait, throttle.BeginAttempt(email, client));
               if (wait > 0) return TooManyLogins(wait);
               RD_TRY(auth::LoginSession session,
                      app.users().Login(email, password, app.Client(req)));
               // The login stands even if forgetting its failures does not: they expire anyway.
               if (Status cleared = throttle.Succeeded(email, client); !cleared.ok()) {
                 spdlog::warn("login throttle: {}", cleared.error().message);
               }
               return JsonResponse(
                   200, json::object{{"token", session.token},
                                     {"token_type", "Bearer"},
                                     {"expires_at", core::FormatIso8601(session.expires_at * 1000)},
                                     {"user", UserJson(session.user)}});
             }));

  // Lets the dashboard's register screen ask for an invite only when one is needed.
  router.Add("GET", "/auth/registration", Handle([&app](http::Request&) -> Result<http::Response> {
               return JsonResponse(
                   200,
                   json::object{{"mode", auth::RegistrationModeName(app.users().registration())}});
             }));

  router.Add(
      "POST", "/api/v1/invites", Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kAccount));
        RD_TRY(json::object body, ParseJsonObject(req.body, /*empty_ok=*/true));
        RD_TRY(std::int64_t ttl, InviteTtlMillis(body));
        RD_TRY(auth::Invite invite, app.users().CreateInvite(user.id, ttl));
        return JsonResponse(
            201, json::object{{"code", invite.code},
                              {"expires_at", core::FormatIso8601(invite.expires_at)},
                              {"register_url", app.PublicUrl("/register/?invite=" + invite.code)}});
      }));

  router.Add("GET", "/api/v1/user", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               return JsonResponse(200, UserJson(user));
             }));

  router.Add("POST", "/api/v1/tokens", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kAccount));
               RD_TRY(json::object body, ParseJsonObject(req.body));
               RD_TRY(auth::NewApiToken spec, ReadNewToken(body, app.clock().NowMillis()));
               RD_TRY(auto created, app.users().CreateApiToken(who, spec, app.Client(req)));
               json::object out = TokenJson(created.first);
               out["token"] = created.second;  // shown once, never again
               return JsonResponse(201, out);
             }));

  router.Add("GET", "/api/v1/tokens", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kAccount));
               RD_TRY(std::vector<auth::ApiToken> tokens, app.users().ListApiTokens(user.id));
               json::array out;
               for (const auto& t : tokens) out.push_back(TokenJson(t));
               return JsonResponse(200, out);
             }));

  router.Add("DELETE", "/api/v1/tokens/{token_id}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kAccount));
               RD_TRY_STATUS(
                   app.users().RevokeApiToken(who, req.path_params["token_id"], app.Client(req)));
               http::Response r;
               r.status = 204;
               return r;
             }));
}

}  // namespace replideploy::api

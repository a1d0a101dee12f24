// Login sessions and what a signed-in user does with them: POST /auth/logout,
// PUT /api/v1/user/password, GET/DELETE /api/v1/user/sessions, and the account's audit log
// (GET /api/v1/audit).
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <charconv>

#include "api/app.hpp"
#include "api/json_input.hpp"
#include "core/clock.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

http::Response NoContent() {
  http::Response r;
  r.status = 204;
  return r;
}

json::object SessionJson(const auth::SessionInfo& s, std::string_view current) {
  return {{"id", s.id},
          {"current", s.id == current},
          {"created_at", core::FormatIso8601(s.created_at)},
          {"last_seen_at", core::FormatIso8601(s.last_seen_at)},
          {"expires_at", core::FormatIso8601(s.expires_at)},
          {"client_address", s.client_address},
          {"user_agent", s.user_agent}};
}

// "session:<id>" -> {"credential": "session", "credential_id": "<id>"}.
json::object ActorJson(const audit::Actor& a) {
  json::object o{{"user_id", a.user_id.empty() ? json::value(nullptr) : json::value(a.user_id)}};
  const auto colon = a.credential.find(':');
  if (colon == std::string::npos) {
    o["credential"] = nullptr;
    o["credential_id"] = nullptr;
  } else {
    const std::string kind = a.credential.substr(0, colon);
    o["credential"] = kind == "token" ? "api_token" : kind;
    o["credential_id"] = a.credential.substr(colon + 1);
  }
  return o;
}

json::object EventJson(const audit::StoredEvent& e) {
  boost::system::error_code ec;
  json::value details = json::parse(e.event.details_json, ec);
  if (ec || !details.is_object()) details = json::object{};
  return {{"id", e.id},
          {"action", e.event.action},
          {"created_at", core::FormatIso8601(e.created_at)},
          {"actor", ActorJson(e.event.actor)},
          {"client_address", e.event.actor.client.address},
          {"user_agent", e.event.actor.client.user_agent},
          {"target", e.event.target},
          {"details", std::move(details)}};
}

Result<int> PageSize(const http::Request& req) {
  const auto text = req.QueryParam("limit");
  if (!text) return audit::AuditLog::kDefaultPageSize;
  int limit = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || end != text->data() + text->size() || limit < 1 ||
      limit > audit::AuditLog::kMaxPageSize) {
    return MakeError(ErrorCode::kBadRequest, "limit must be a number from 1 to " +
                                                 std::to_string(audit::AuditLog::kMaxPageSize));
  }
  return limit;
}

}  // namespace

void AddSessionRoutes(http::Router& router, App& app) {
  // Ends the session whose token came with the request. The dashboard keeps its token in
  // localStorage (no cookie to clear) and forgets it on its side.
  router.Add("POST", "/auth/logout", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kRead));
               RD_TRY_STATUS(app.users().Logout(who, app.Client(req)));
               return NoContent();
             }));

  // Throttled as logins are (per account and address): a stolen session cannot be used to
  // guess the password faster than the login form allows.
  router.Add(
      "PUT", "/api/v1/user/password", Handle([&app](http::Request& req) -> Result<http::Response> {
        RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kAccount));
        RD_TRY(json::object body, ParseJsonObject(req.body));
        RD_TRY(std::string current, RequiredString(body, "current_password"));
        RD_TRY(std::string new_password, RequiredString(body, "new_password"));
        RD_TRY_STATUS(auth::UserService::CheckNewPassword(new_password));
        auth::LoginThrottle& throttle = app.login_throttle();
        const audit::ClientInfo client = app.Client(req);
        RD_TRY(int wait, throttle.BeginAttempt(who.user.email, client.address));
        if (wait > 0) return TooManyLogins(wait);
        RD_TRY_STATUS(app.users().ChangePassword(who, current, new_password, client));
        if (Status cleared = throttle.Succeeded(who.user.email, client.address); !cleared.ok()) {
          spdlog::warn("login throttle: {}", cleared.error().message);
        }
        return NoContent();
      }));

  router.Add("GET", "/api/v1/user/sessions",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kAccount));
               RD_TRY(auto sessions, app.users().ListSessions(who.user.id));
               json::array out;
               for (const auto& s : sessions) out.push_back(SessionJson(s, who.session_id));
               return JsonResponse(200, out);
             }));

  router.Add("DELETE", "/api/v1/user/sessions/{session_id}",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::Principal who, app.Authorize(req, auth::Scope::kAccount));
               RD_TRY_STATUS(
                   app.users().RevokeSession(who, req.path_params["session_id"], app.Client(req)));
               return NoContent();
             }));

  router.Add("GET", "/api/v1/audit", Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kAccount));
               RD_TRY(int limit, PageSize(req));
               const std::string before = req.QueryParam("before").value_or("");
               RD_TRY(audit::EventPage page, app.audit().List(user.id, limit, before));
               json::array events;
               for (const auto& e : page.events) events.push_back(EventJson(e));
               return JsonResponse(
                   200,
                   json::object{{"events", std::move(events)},
                                {"next_before", page.next_before ? json::value(*page.next_before)
                                                                 : json::value(nullptr)}});
             }));
}

}  // namespace replideploy::api

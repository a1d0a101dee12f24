// GET /api/v1/sites/{site}/analytics?range=hour|day|week: a site's traffic (requests, bytes,
// status classes per period), its top paths and 404s, and its builds, for the dashboard's
// Analytics tab. The site's owner only (another user's site is 404, as every site route).
// Shape in docs/api.md ("Analytics").
#include <boost/json.hpp>

#include "api/app.hpp"
#include "api/errors.hpp"
#include "api/json_input.hpp"

namespace replideploy::api {

namespace json = boost::json;

namespace {

json::object StatusJson(const std::array<std::uint64_t, 5>& status) {
  return {{"1xx", status[0]},
          {"2xx", status[1]},
          {"3xx", status[2]},
          {"4xx", status[3]},
          {"5xx", status[4]}};
}

json::object PointJson(const deploys::TrafficPoint& p) {
  return {{"start", p.start},
          {"requests", p.requests},
          {"bytes", p.bytes},
          {"status", StatusJson(p.status)}};
}

json::array PathsJson(const std::vector<deploys::PathCount>& paths) {
  json::array out;
  for (const auto& [path, n] : paths) out.push_back(json::object{{"path", path}, {"requests", n}});
  return out;
}

json::object AnalyticsJson(const deploys::SiteAnalytics& a) {
  json::array points;
  for (const auto& p : a.points) points.push_back(PointJson(p));
  json::array builds;
  for (const auto& b : a.builds) {
    builds.push_back(json::object{{"deploy_id", b.deploy_id},
                                  {"outcome", b.outcome},
                                  {"finished_at", core::FormatIso8601(b.finished_at)},
                                  {"duration_ms", b.duration_ms}});
  }
  json::object totals = PointJson(a.totals);
  totals.erase("start");
  return {{"range", deploys::AnalyticsRangeName(a.range)},
          {"bucket_seconds", a.bucket_seconds},
          {"from", a.from},
          {"to", a.to},
          {"totals", std::move(totals)},
          {"points", std::move(points)},
          {"top_paths", PathsJson(a.top_paths)},
          {"other_paths_requests", a.other_paths},
          {"top_404s", PathsJson(a.top_not_found)},
          {"other_404s_requests", a.other_not_found},
          {"builds", std::move(builds)}};
}

}  // namespace

void AddAnalyticsRoutes(http::Router& router, App& app) {
  router.Add("GET", "/api/v1/sites/{site_id}/analytics",
             Handle([&app](http::Request& req) -> Result<http::Response> {
               RD_TRY(auth::User user, app.Authenticate(req, auth::Scope::kRead));
               RD_TRY(deploys::Site site, app.sites().Get(user.id, req.path_params["site_id"]));
               RD_TRY(deploys::AnalyticsRange range,
                      deploys::ParseAnalyticsRange(req.QueryParam("range").value_or("hour")));
               RD_TRY(deploys::SiteAnalytics analytics, app.analytics().ForSite(site.id, range));
               return JsonResponse(200, AnalyticsJson(analytics));
             }));
}

}  // namespace replideploy::api

#include "deploys/function_config.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "deploys/cron.hpp"

namespace replideploy::deploys {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxRoutes = 32;

Error Bad(std::string_view function_name, const std::string& why) {
  return Unprocessable("invalid_function_config",
                       "functions_config of '" + std::string(function_name) + "': " + why);
}

bool HttpToken(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
}

// The patterns of `routes` (an array of {"pattern", ...}), checked.
Result<json::array> ReadRoutes(std::string_view function_name, const json::object& config,
                               std::string_view key, bool with_methods) {
  json::array out;
  const json::value* raw = config.if_contains(key);
  if (raw == nullptr || raw->is_null()) return out;
  if (!raw->is_array()) return Bad(function_name, std::string(key) + " must be an array");
  if (raw->as_array().size() > kMaxRoutes) {
    return Bad(function_name, "more than 32 " + std::string(key));
  }
  for (const json::value& r : raw->as_array()) {
    if (!r.is_object()) return Bad(function_name, std::string(key) + " must hold objects");
    const json::object& route = r.as_object();
    const json::value* pattern = route.if_contains("pattern");
    if (pattern == nullptr || !pattern->is_string()) {
      return Bad(function_name, "every route needs a \"pattern\" string");
    }
    auto parsed = UrlPattern::Parse(std::string_view(pattern->as_string()));
    if (!parsed.ok()) return Bad(function_name, parsed.error().message);
    json::object kept{{"pattern", pattern->as_string()}};
    if (with_methods) {
      json::array methods;
      if (const json::value* m = route.if_contains("methods"); m != nullptr && !m->is_null()) {
        if (!m->is_array()) return Bad(function_name, "methods must be an array");
        for (const json::value& method : m->as_array()) {
          if (!method.is_string() || !HttpToken(method.as_string())) {
            return Bad(function_name, "methods must be HTTP method names");
          }
          std::string upper(method.as_string());
          for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          methods.push_back(json::value(upper));
        }
      }
      kept["methods"] = std::move(methods);
      const json::value* prefer = route.if_contains("prefer_static");
      if (prefer != nullptr && !prefer->is_null() && !prefer->is_bool()) {
        return Bad(function_name, "prefer_static must be a boolean");
      }
      kept["prefer_static"] = prefer != nullptr && prefer->is_bool() && prefer->as_bool();
    }
    out.push_back(std::move(kept));
  }
  return out;
}

}  // namespace

Result<std::string> NormalizeFunctionConfig(std::string_view function_name,
                                            std::string_view config_json) {
  std::error_code ec;
  json::value parsed = json::parse(config_json, ec);
  if (ec) return Bad(function_name, "not JSON");
  if (parsed.is_null()) return std::string();
  if (!parsed.is_object()) return Bad(function_name, "must be an object");
  RD_TRY(json::array routes, ReadRoutes(function_name, parsed.as_object(), "routes", true));
  RD_TRY(json::array excluded,
         ReadRoutes(function_name, parsed.as_object(), "excluded_routes", false));
  // A scheduled function's cron expression: netlify-cli sends it apart (function_schedules),
  // the deploy API folds it in here.
  std::string schedule;
  if (const json::value* s = parsed.as_object().if_contains("schedule");
      s != nullptr && !s->is_null()) {
    if (!s->is_string()) return Bad(function_name, "schedule must be a string");
    auto cron = CronSchedule::Parse(std::string_view(s->as_string()));
    if (!cron.ok()) return Bad(function_name, cron.error().message);
    schedule = cron->expression();
  }
  if (!schedule.empty() && !routes.empty()) {
    // As Netlify's build: a route would not be called on schedule, and no visitor may call it.
    return Bad(function_name, "a scheduled function cannot have a path");
  }
  if (routes.empty() && schedule.empty()) return std::string();
  json::object kept{{"routes", std::move(routes)}, {"excluded_routes", std::move(excluded)}};
  if (!schedule.empty()) kept["schedule"] = schedule;
  return json::serialize(kept);
}

Status LoadFunctionConfig(std::string_view stored, FunctionEntry& entry) {
  entry.routes.clear();
  entry.excluded.clear();
  entry.schedule.clear();
  if (stored.empty()) return {};
  std::error_code ec;
  json::value parsed = json::parse(stored, ec);
  if (ec || !parsed.is_object())
    return MakeError(ErrorCode::kInternal, "bad stored function config");
  const json::object& config = parsed.as_object();
  try {
    for (const json::value& r : config.at("routes").as_array()) {
      const json::object& route = r.as_object();
      RD_TRY(UrlPattern pattern,
             UrlPattern::Parse(std::string_view(route.at("pattern").as_string())));
      FunctionRoute out{std::move(pattern), {}, route.at("prefer_static").as_bool()};
      for (const json::value& m : route.at("methods").as_array()) {
        out.methods.emplace_back(m.as_string());
      }
      entry.routes.push_back(std::move(out));
    }
    for (const json::value& r : config.at("excluded_routes").as_array()) {
      RD_TRY(UrlPattern pattern,
             UrlPattern::Parse(std::string_view(r.as_object().at("pattern").as_string())));
      entry.excluded.push_back(std::move(pattern));
    }
    if (const json::value* s = config.if_contains("schedule"); s != nullptr) {
      entry.schedule = std::string(s->as_string());
    }
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("bad stored function config: ") + e.what());
  }
  return {};
}

}  // namespace replideploy::deploys

#include "edge/route.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "core/crypto.hpp"

namespace replideploy::edge {

namespace {

// Netlify passes the request's query string on to the pretty-URL redirect.
std::string WithQuery(const std::string& location, const http::Request& request) {
  const auto q = request.target.find('?');
  if (q == std::string::npos || location.find('?') != std::string::npos) return location;
  return location + request.target.substr(q);
}

// The deploy's 404.html with `status`, else the platform's not-found page.
Route NotFound(const deploys::DeployManifest& manifest, int status) {
  Route route;
  route.status = status;
  route.not_found_page = true;
  if (const auto* page = manifest.Find("/404.html")) {
    route.kind = Route::Kind::kFile;
    route.file = "/404.html";
    route.entry = page;
  }
  return route;
}

Route FileRoute(StaticMatch match, int status) {
  Route route;
  route.kind = Route::Kind::kFile;
  route.status = status;
  route.file = std::move(match.path);
  route.entry = match.entry;
  return route;
}

// Whether the request's "Authorization: Basic" names one of `credentials` (compared in
// constant time).
bool HasCredentials(const http::Request& request, const std::vector<std::string>& credentials) {
  auto given = http::BasicCredentials(request.Header("Authorization"));
  if (!given) return false;
  const std::string pair = core::Sha256(given->first + ":" + given->second);
  bool found = false;
  for (const std::string& c : credentials) {
    if (!c.empty() && core::ConstantTimeEquals(core::Sha256(c), pair)) found = true;
  }
  return found;
}

// The function that `path` names under `prefix` ("/.netlify/functions/hello/x" -> "hello"), or
// null. A function with routes of its own (config.path) answers only there.
const deploys::FunctionEntry* FunctionAt(const deploys::DeployManifest& manifest,
                                         std::string_view path, std::string_view prefix,
                                         std::string* name) {
  if (!path.starts_with(prefix)) return nullptr;
  std::string_view rest = path.substr(prefix.size());
  rest = rest.substr(0, rest.find('/'));
  const deploys::FunctionEntry* entry = manifest.FindFunction(rest);
  if (entry == nullptr || !entry->routes.empty()) return nullptr;
  *name = std::string(rest);
  return entry;
}

Route FunctionRoute(std::string name, const deploys::FunctionEntry* entry) {
  Route route;
  route.kind = Route::Kind::kFunction;
  route.status = 200;
  route.function = std::move(name);
  route.function_entry = entry;
  return route;
}

// A function whose config.path routes take `path` for `method`: literal routes before
// patterns, then functions by name, then routes in their declared order; a path matching one
// of the function's excludedPath patterns is not the function's. `prefer_static` tells
// whether the route lets a file at the path win.
struct RoutedFunction {
  std::string name;
  const deploys::FunctionEntry* entry = nullptr;
  bool prefer_static = false;
  std::map<std::string, std::string> params;
};

std::optional<RoutedFunction> FunctionRouteFor(const deploys::DeployManifest& manifest,
                                               std::string_view path, std::string_view method) {
  for (const bool literal_pass : {true, false}) {
    for (const std::string& name : manifest.routed_functions) {
      const deploys::FunctionEntry* entry = manifest.FindFunction(name);
      if (entry == nullptr) continue;
      for (const deploys::FunctionRoute& r : entry->routes) {
        if (r.pattern.literal() != literal_pass) continue;
        if (!r.methods.empty() &&
            std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end()) {
          continue;
        }
        std::map<std::string, std::string> params;
        if (!r.pattern.Match(path, &params)) continue;
        const bool excluded =
            std::any_of(entry->excluded.begin(), entry->excluded.end(),
                        [&](const deploys::UrlPattern& p) { return p.Match(path); });
        if (excluded) break;  // none of this function's routes take an excluded path
        return RoutedFunction{name, entry, r.prefer_static, std::move(params)};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

Route RouteRequest(const deploys::DeployManifest& manifest, const DeployRules& rules,
                   const http::Request& request, std::string_view path,
                   std::span<const std::string> roles, RouteTrace* trace) {
  // Netlify's Basic-Auth header rules guard the path before any rule or file answers it.
  const DeployRules::BasicAuth auth = rules.BasicAuthFor(path);
  if (!auth.credentials.empty() && !HasCredentials(request, auth.credentials)) {
    Route route;
    route.kind = Route::Kind::kUnauthorized;
    route.status = 401;
    route.auth_source = auth.source;
    route.headers = rules.HeadersFor(path);
    if (trace != nullptr) {
      trace->redirects.assign(
          rules.redirect_rules().size(),
          RedirectVerdict{RedirectVerdict::Outcome::kNotReached,
                          "the request does not carry the Basic-Auth credentials"});
      trace->header_rules = rules.MatchingHeaderRules(path);
      trace->static_match = ResolveStatic(manifest, path);
    }
    return route;
  }
  std::string function;
  if (path.starts_with(kFunctionsPrefix)) {
    const auto* entry = FunctionAt(manifest, path, kFunctionsPrefix, &function);
    Route route = entry != nullptr ? FunctionRoute(function, entry) : NotFound(manifest, 404);
    route.headers = rules.HeadersFor(path);
    route.auth_source = auth.source;
    if (trace != nullptr) {
      trace->redirects.assign(rules.redirect_rules().size(),
                              RedirectVerdict{RedirectVerdict::Outcome::kNotReached,
                                              "functions paths are not subject to rules"});
      trace->header_rules = rules.MatchingHeaderRules(path);
      trace->static_match = ResolveStatic(manifest, path);
    }
    return route;
  }
  StaticMatch match = ResolveStatic(manifest, path);
  // A function's config.path takes the path before any rule, and before a file at the path
  // unless the route says preferStatic (Netlify's request chain).
  if (auto routed = FunctionRouteFor(manifest, path, request.method);
      routed && !(routed->prefer_static && match.kind == StaticMatch::Kind::kFile)) {
    Route route = FunctionRoute(routed->name, routed->entry);
    route.params = std::move(routed->params);
    route.headers = rules.HeadersFor(path);
    route.auth_source = auth.source;
    if (trace != nullptr) {
      trace->redirects.assign(
          rules.redirect_rules().size(),
          RedirectVerdict{RedirectVerdict::Outcome::kNotReached,
                          "function " + routed->name + " answers the path (config.path)"});
      trace->header_rules = rules.MatchingHeaderRules(path);
      trace->static_match = match;
    }
    return route;
  }
  RuleDecision decision = rules.Match(request, path, match.kind != StaticMatch::Kind::kNone, roles,
                                      trace != nullptr ? &trace->redirects : nullptr);
  Route route;
  switch (decision.kind) {
    case RuleDecision::Kind::kRedirect:
      route.kind = Route::Kind::kRedirect;
      route.status = decision.status;
      route.location = decision.target;
      break;
    case RuleDecision::Kind::kProxy:
      route.kind = Route::Kind::kProxy;
      route.status = decision.status;
      break;
    case RuleDecision::Kind::kRewrite:
    case RuleDecision::Kind::kStatus: {
      const std::string_view target_path =
          std::string_view(decision.target).substr(0, decision.target.find('?'));
      const StaticMatch target =
          decision.target.empty() ? StaticMatch{} : ResolveStatic(manifest, decision.target);
      if (decision.kind == RuleDecision::Kind::kRewrite) {
        if (const auto* entry = FunctionAt(manifest, target_path, kFunctionsPrefix, &function)) {
          route = FunctionRoute(function, entry);
          break;
        }
        // A rewrite to a function's config.path runs it, preferStatic included (once: rules
        // are not evaluated again).
        if (auto routed = FunctionRouteFor(manifest, target_path, request.method);
            routed && !(routed->prefer_static && target.kind == StaticMatch::Kind::kFile)) {
          route = FunctionRoute(routed->name, routed->entry);
          route.params = std::move(routed->params);
          break;
        }
      }
      if (target.kind == StaticMatch::Kind::kFile) {
        route = FileRoute(target, decision.status == 0 ? 200 : decision.status);
      } else {
        // A rewrite to nothing is a 404; a status rule keeps its status on the not-found page.
        route = NotFound(manifest,
                         decision.kind == RuleDecision::Kind::kStatus ? decision.status : 404);
      }
      break;
    }
    case RuleDecision::Kind::kNone:
      if (match.kind == StaticMatch::Kind::kFile) {
        // The match's path moves into the route unless a trace still reports the match.
        route = FileRoute(trace == nullptr ? std::move(match) : match, 200);
      } else if (const auto* entry =
                     match.kind == StaticMatch::Kind::kNone
                         ? FunctionAt(manifest, path, kApiFunctionsPrefix, &function)
                         : nullptr) {
        route = FunctionRoute(function, entry);
      } else if (match.kind == StaticMatch::Kind::kRedirect) {
        route.kind = Route::Kind::kRedirect;
        route.status = 301;
        route.location = WithQuery(match.path, request);
      } else {
        route = NotFound(manifest, 404);
      }
      break;
  }
  route.decision = std::move(decision);
  // Netlify applies header rules only to what it serves itself, never to a proxied answer: the
  // origin sends its own headers.
  const bool proxied = route.kind == Route::Kind::kProxy;
  if (!proxied) route.headers = rules.HeadersFor(path);
  route.auth_source = auth.source;
  if (trace != nullptr) {
    if (!proxied) trace->header_rules = rules.MatchingHeaderRules(path);
    trace->static_match = match;
  }
  return route;
}

}  // namespace replideploy::edge

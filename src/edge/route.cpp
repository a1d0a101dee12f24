#include "edge/route.hpp"

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

Route FileRoute(const StaticMatch& match, int status) {
  Route route;
  route.kind = Route::Kind::kFile;
  route.status = status;
  route.file = match.path;
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
// null.
const deploys::FunctionEntry* FunctionAt(const deploys::DeployManifest& manifest,
                                         std::string_view path, std::string_view prefix,
                                         std::string* name) {
  if (!path.starts_with(prefix)) return nullptr;
  std::string_view rest = path.substr(prefix.size());
  rest = rest.substr(0, rest.find('/'));
  const deploys::FunctionEntry* entry = manifest.FindFunction(rest);
  if (entry != nullptr) *name = std::string(rest);
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
  const StaticMatch match = ResolveStatic(manifest, path);
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
      if (decision.kind == RuleDecision::Kind::kRewrite) {
        if (const auto* entry = FunctionAt(manifest, target_path, kFunctionsPrefix, &function)) {
          route = FunctionRoute(function, entry);
          break;
        }
      }
      const StaticMatch target =
          decision.target.empty() ? StaticMatch{} : ResolveStatic(manifest, decision.target);
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
        route = FileRoute(match, 200);
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

// How the edge answers a request for one deploy, decided before any byte of a file is read:
// which rule applies, which file answers, the status, `Location`, the proxy target, and the
// headers that `_headers` adds. Edge::Serve acts on the route; `rules test` (explain.hpp)
// explains it, so what the explanation says is what the edge does. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deploys/manifest.hpp"
#include "edge/deploy_rules.hpp"
#include "edge/rules.hpp"
#include "edge/static_files.hpp"
#include "http/message.hpp"

namespace replideploy::edge {

struct Route {
  enum class Kind {
    kFile,      // serve `entry` (the deploy's file `file`) with `status`
    kNotFound,  // the platform's own not-found page with `status` (the deploy has no 404.html)
    kRedirect,  // `status` with `Location: location`
    kProxy,     // forward to `proxy.target` (an absolute URL)
    // 401: a Basic-Auth header rule (`auth_source`) protects the path and the request carries
    // none of its credentials
    kUnauthorized,
    // invoke the deploy's function `function` (its zip `function_entry`); `status` is 200
    kFunction,
  };
  Kind kind = Kind::kNotFound;
  int status = 404;
  std::string file;                               // kFile
  const deploys::ManifestEntry* entry = nullptr;  // kFile
  // kFile, kNotFound: the not-found page stands in for a missing file (no file at the path,
  // or none at the rule's target).
  bool not_found_page = false;
  std::string function;                                    // kFunction
  const deploys::FunctionEntry* function_entry = nullptr;  // kFunction
  std::map<std::string, std::string> params;               // kFunction: config.path's named groups
  std::string location;                                    // kRedirect
  RuleDecision decision;                                   // what the redirect rules decided
  HeaderList headers;       // from `_headers` / [[headers]], in order; none for kProxy
  std::string auth_source;  // the Basic-Auth rule protecting the path ("" for none)
};

// Why the route is what it is, for explaining it.
struct RouteTrace {
  std::vector<RedirectVerdict> redirects;  // one per redirect rule, in order
  std::vector<std::size_t> header_rules;   // the header rules that apply (none to a proxy)
  StaticMatch static_match;                // what the path names without any rule
};

// Where functions answer (docs/functions.md, "Routes"): a function with config.path routes at
// those paths, before any rule and before files unless the route has preferStatic, and at a
// rewrite (200) to such a path; every other function at /.netlify/functions/<name>[/...] (before
// any rule), at a rewrite (200) to that path, and at /api/<name>[/...] when no file or rule
// answers the path.
inline constexpr std::string_view kFunctionsPrefix = "/.netlify/functions/";
inline constexpr std::string_view kApiFunctionsPrefix = "/api/";

// `path` is the normalised request path (NormalizeRequestPath). `roles` are the visitor's
// verified roles, for Role= conditions.
Route RouteRequest(const deploys::DeployManifest& manifest, const DeployRules& rules,
                   const http::Request& request, std::string_view path,
                   std::span<const std::string> roles = {}, RouteTrace* trace = nullptr);

}  // namespace replideploy::edge

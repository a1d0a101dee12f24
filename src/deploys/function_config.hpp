// A function's routing config as netlify-cli sends it in the deploy's `functions_config` (from
// zip-it-and-ship-it's reading of `export const config = { path, excludedPath, method,
// preferStatic }`):
//   {"routes": [{"pattern": "/api/items/:id", "literal"|"expression": ..., "methods": ["GET"],
//                "prefer_static": true}],
//    "excluded_routes": [{"pattern": "/api/items/static", ...}], "display_name": ..., ...}
// Only `pattern`, `methods` and `prefer_static` are read; zip-it-and-ship-it's compiled
// `expression` (a JavaScript regular expression) is not: the pattern is matched by our own
// UrlPattern. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "deploys/manifest.hpp"

namespace replideploy::deploys {

// Checks one function's functions_config entry (JSON text of an object) and returns the JSON
// kept in the database: {"routes": [{"pattern", "methods", "prefer_static"}],
// "excluded_routes": [{"pattern"}], "schedule"?: cron}, or "" when it declares no routes and no
// schedule. `schedule` (a cron expression, cron.hpp) is ours: the deploy API moves netlify-cli's
// function_schedules entries there; a bad one is "invalid_function_config" too. kUnprocessable
// ("invalid_function_config") for a bad shape, a pattern that is not valid URLPattern syntax
// (UrlPattern::Parse), a method that is not an HTTP token, or more than 32 routes.
Result<std::string> NormalizeFunctionConfig(std::string_view function_name,
                                            std::string_view config_json);

// Fills `entry`'s routes and excluded patterns from what NormalizeFunctionConfig returned.
Status LoadFunctionConfig(std::string_view stored, FunctionEntry& entry);

}  // namespace replideploy::deploys

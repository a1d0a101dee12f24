// A build's settings from netlify.toml, layered the way Netlify does: [build], then
// [context.<deploy context>], then [context.<branch>] (each overrides what it sets), with
// environment variables merged the same way. What the file leaves unset falls back to the
// site's settings from the API.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::builder {

struct BuildConfig {
  std::optional<std::string> base;
  std::optional<std::string> command;
  std::optional<std::string> publish;
  std::optional<std::string> functions;  // [build] functions or [functions] directory
  // [functions."name"] schedule = "cron": scheduled functions by name (exact names only).
  std::map<std::string, std::string> function_schedules;
  // [functions] included_files (every function) and [functions."name"] included_files
  // (included_files.hpp): glob patterns relative to the base directory.
  std::vector<std::string> included_files;
  std::map<std::string, std::vector<std::string>> function_included_files;
  std::map<std::string, std::string> environment;
};

// kUnprocessable "netlify.toml:<line>: ..." for a file that does not parse, and
// "netlify.toml: <key> must be a string" for a value of the wrong type. `context` is
// "production", "deploy-preview" or "branch-deploy"; `branch` the branch built.
Result<BuildConfig> ReadBuildConfig(const std::string& toml_text,
                                    std::string_view context = "production",
                                    std::string_view branch = "");

}  // namespace replideploy::builder

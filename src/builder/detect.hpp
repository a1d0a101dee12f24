// What to build when netlify.toml says nothing: the framework from package.json (or the files
// of a Hugo site), the package manager from the lockfile. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace replideploy::builder {

struct DetectedBuild {
  std::string framework;        // "vite", "next", ..., "hugo", "static"
  std::string package_manager;  // "npm", "yarn", "pnpm", or "" without package.json
  std::string install_command;  // "npm ci", "npm install", "yarn install --frozen-lockfile", ...
  std::string build_command;    // "npm run build", "hugo", or "" for plain HTML
  std::string publish;          // "dist", "out", ..., "." for plain HTML
};

// `package_json` is the file's text ("" when absent); `has_*` say which files exist at the
// site's base. A package.json that does not parse is kUnprocessable naming the file.
struct ProjectFiles {
  std::string package_json;
  bool has_package_lock = false;
  bool has_yarn_lock = false;
  bool has_pnpm_lock = false;
  bool has_hugo_config = false;  // hugo.toml / config.toml with a content/ dir
};
Result<DetectedBuild> DetectBuild(const ProjectFiles& files);

}  // namespace replideploy::builder

#include "builder/detect.hpp"

#include <boost/json.hpp>

namespace replideploy::builder {

namespace json = boost::json;

namespace {

struct Framework {
  std::string_view dependency;
  std::string_view name;
  std::string_view publish;
};

// First match wins: meta-frameworks before the tools they are built on (SvelteKit and Astro
// depend on Vite).
constexpr Framework kFrameworks[] = {
    {"next", "next", "out"},
    {"astro", "astro", "dist"},
    {"@sveltejs/kit", "sveltekit", "build"},
    {"gatsby", "gatsby", "public"},
    {"@docusaurus/core", "docusaurus", "build"},
    {"@11ty/eleventy", "eleventy", "_site"},
    {"react-scripts", "create-react-app", "build"},
    {"vite", "vite", "dist"},
};

bool Has(const json::object& pkg, std::string_view section, std::string_view name) {
  const json::value* deps = pkg.if_contains(section);
  return deps != nullptr && deps->is_object() && deps->as_object().contains(name);
}

}  // namespace

Result<DetectedBuild> DetectBuild(const ProjectFiles& files) {
  DetectedBuild out;
  if (files.package_json.empty()) {
    if (files.has_hugo_config) {
      out.framework = "hugo";
      out.build_command = "hugo";
      out.publish = "public";
      return out;
    }
    out.framework = "static";
    out.publish = ".";
    return out;
  }
  boost::system::error_code ec;
  json::value parsed = json::parse(files.package_json, ec);
  if (ec || !parsed.is_object()) {
    return MakeError(ErrorCode::kUnprocessable, "package.json is not a JSON object");
  }
  const json::object& pkg = parsed.as_object();
  if (files.has_pnpm_lock) {
    out.package_manager = "pnpm";
    out.install_command =
        "corepack pnpm install --frozen-lockfile --store-dir /workspace/.cache/pnpm";
  } else if (files.has_yarn_lock) {
    out.package_manager = "yarn";
    out.install_command = "corepack yarn install --frozen-lockfile";
  } else {
    out.package_manager = "npm";
    out.install_command =
        files.has_package_lock ? "npm ci --no-audit --no-fund" : "npm install --no-audit --no-fund";
  }
  out.framework = "node";
  out.publish = "dist";
  for (const Framework& f : kFrameworks) {
    if (Has(pkg, "dependencies", f.dependency) || Has(pkg, "devDependencies", f.dependency)) {
      out.framework = std::string(f.name);
      out.publish = std::string(f.publish);
      break;
    }
  }
  const json::value* scripts = pkg.if_contains("scripts");
  const bool has_build =
      scripts != nullptr && scripts->is_object() && scripts->as_object().contains("build");
  if (has_build) {
    out.build_command = out.package_manager == "npm"
                            ? "npm run build"
                            : "corepack " + out.package_manager + " run build";
  }
  return out;
}

}  // namespace replideploy::builder

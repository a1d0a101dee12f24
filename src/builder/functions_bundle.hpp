// The functions folder of a build (Netlify's `netlify/functions` or `[functions] directory`), or
// of `replideploy deploy --functions`, packaged the way the runtime runs them: one zip per
// function. A function is a top-level `<name>.js|.mjs|.cjs|.ts|.mts|.cts|.go` file, or a
// `<name>/` folder whose entry is `<name>.<ext>` or `index.<ext>` (Go: its `.go` files).
//
// JavaScript and TypeScript functions are bundled with esbuild (tools/esbuild, pinned): one ES
// module `<name>.mjs` per function holding its code and what it imports from node_modules
// (node: builtins stay imports), which the runtime (functions/bootstrap.mjs) loads as the
// function's entry. Go functions are zipped as they are. Zips are deterministic (fixed times,
// sorted entries; esbuild's output depends only on its input), so an unchanged function has the
// same SHA-256 in every deploy and is stored once.
//
// Builds run esbuild inside the build's sandbox (it reads the repository's code): FindFunctions,
// EsbuildArgs, then PackageFunctions on what it wrote. `replideploy deploy` runs it directly on
// the user's machine: BundleFunctions(path, esbuild).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "builder/included_files.hpp"
#include "core/result.hpp"
#include "sandbox/untrusted_tree.hpp"

namespace replideploy::builder {

inline constexpr std::size_t kMaxFunctionZipBytes = std::size_t{50} << 20;
inline constexpr std::size_t kMaxFunctions = 1000;

struct FunctionBundle {
  std::string name;     // [A-Za-z0-9_-]+
  std::string runtime;  // "js" or "go"
  std::string zip;
  // Its routes, from the module's `export const config` (ReadFunctionConfigs): the JSON of a
  // netlify-cli functions_config entry, or "" when it declares none.
  std::string config;
};

// netlify.toml's schedules ([functions."name"] schedule) join the bundles' configs, for
// functions whose `export const config` sets none.
void ApplyTomlSchedules(const std::map<std::string, std::string>& schedules,
                        std::vector<FunctionBundle>& bundles);

struct FunctionSource {
  std::string name;
  std::string runtime;  // "js" or "go"
  // js: the entry file, relative to the functions folder ("hello.ts", "api/index.mjs").
  std::string entry;
  // go: its files (path in the folder -> content), zipped as they are.
  std::map<std::string, std::string> files;
};

// The functions of a folder, by name. kUnprocessable "invalid_function" for a name with other
// characters than letters, digits, '-' and '_', or more than kMaxFunctions. A folder without an
// entry file is not a function. Read beneath the folder's descriptor: links are followed only
// when they stay inside it.
Result<std::vector<FunctionSource>> FindFunctions(const sandbox::UntrustedTree& dir);

// esbuild's arguments (without the program) bundling every JavaScript function of `sources`:
// entries `<in_dir>/<entry>` (relative to esbuild's working directory or absolute), outputs
// `<out_dir>/<name>.mjs`. Platform node, ES module format, a `require` for the CommonJS packages
// it bundles (createRequire), TypeScript by file extension.
std::vector<std::string> EsbuildArgs(const std::vector<FunctionSource>& sources,
                                     const std::string& in_dir, const std::string& out_dir);

// Whether `sources` holds a function esbuild has to bundle.
bool NeedsEsbuild(const std::vector<FunctionSource>& sources);

// One zip per function: a JavaScript function's `<name>.mjs` as esbuild wrote it in `bundled`
// (its out_dir; null when nothing needed bundling), a Go function's files; and the function's
// `included` files (CollectIncludedFiles) at their paths (the bundle wins a name both have).
// kUnprocessable "invalid_function" when a zip would pass kMaxFunctionZipBytes or an output is
// missing.
Result<std::vector<FunctionBundle>> PackageFunctions(const std::vector<FunctionSource>& sources,
                                                     const sandbox::UntrustedTree* bundled,
                                                     const IncludedFiles& included = {});

// Routes of bundled functions: a Node.js script, run as `node --input-type=module -e SCRIPT
// OUT_DIR NAME...`, imports each `<OUT_DIR>/<NAME>.mjs` and writes `<OUT_DIR>/` +
// kFunctionConfigFile: {NAME: {"routes": [{"pattern", "methods", "prefer_static"}],
// "excluded_routes": [{"pattern"}]}} from the module's `export const config` (`path`,
// `excludedPath`, `method`, `preferStatic`), the shape netlify-cli sends as functions_config.
// Importing runs the module's top-level code: in a build it runs in the build's sandbox, like
// the build command. A module that fails to import is left without routes (a line on stderr).
std::string_view FunctionConfigScript();
inline constexpr std::string_view kFunctionConfigFile = ".function-routes.json";
// Reads that file's text into `bundles` (by name); a function it does not name keeps no
// routes. kUnprocessable "invalid_function_config" when it is not a JSON object of objects.
Status ApplyFunctionConfigs(std::string_view json_text, std::vector<FunctionBundle>& bundles);

// Everything above for a folder the caller trusts (`replideploy deploy --functions`, tests),
// running the esbuild binary at `esbuild` directly, then `node` for the routes (when
// `read_configs`). Empty when the folder does not exist.
// kUnprocessable "bundling_failed" with esbuild's messages when it fails.
Result<std::vector<FunctionBundle>> BundleFunctions(const std::filesystem::path& dir,
                                                    const std::string& esbuild,
                                                    bool read_configs = true,
                                                    const IncludedFiles& included = {});

// The esbuild binary: `configured` when not empty, else $REPLIDEPLOY_ESBUILD, else
// tools/esbuild/node_modules/@esbuild/linux-x64/bin/esbuild in a folder above this program
// (a source checkout, where scripts/install-deps.sh installs it), else "" (not found).
std::string FindEsbuild(const std::string& configured = "");

}  // namespace replideploy::builder

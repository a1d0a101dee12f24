// BuildWorker: the build's functions, bundled with esbuild in the sandbox, packaged with their
// included files, and stored.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "builder/build_cache.hpp"
#include "builder/detect.hpp"
#include "builder/functions_bundle.hpp"
#include "builder/git_source.hpp"
#include "builder/worker.hpp"
#include "builder/worker_internal.hpp"
#include "core/metrics.hpp"
#include "deploys/env_vars.hpp"
#include "sandbox/untrusted_tree.hpp"

namespace replideploy::builder {

namespace fs = std::filesystem;

namespace {

// netlify.toml's included_files of `sources`, read from the base directory `base` (beneath its
// descriptor: a link out of it is refused).
Result<IncludedFiles> IncludedFilesOf(const sandbox::UntrustedTree& base, const BuildConfig& config,
                                      const std::vector<FunctionSource>& sources,
                                      BuildLogWriter& log) {
  if (config.included_files.empty() && config.function_included_files.empty()) {
    return IncludedFiles{};
  }
  std::vector<std::string> names;
  for (const FunctionSource& s : sources) names.push_back(s.name);
  RD_TRY(IncludedFiles included,
         CollectIncludedFiles(base, config.included_files, config.function_included_files, names));
  for (const auto& [name, files] : included) {
    if (!files.empty()) {
      log.Info(fmt::format("Function {}: {} included file{}", name, files.size(),
                           files.size() == 1 ? "" : "s"));
    }
  }
  return included;
}

}  // namespace

Result<BuildWorker::FunctionBlobs> BuildWorker::PackageFunctions(
    const Workspace& ws, const Plan& plan, std::stop_token stop, BuildLogWriter& log,
    std::map<std::string, std::string>& configs) {
  // Functions: netlify.toml's folder, else the site's; neither set, the first of Netlify's
  // default `netlify/functions` and the `functions/` and `api/` folders that is present.
  RD_TRY(std::string functions_dir,
         RelativeInside(plan.config.functions.value_or(plan.settings.functions_dir),
                        "build.functions"));
  std::vector<std::string> candidates{functions_dir};
  if (functions_dir.empty()) candidates = {"netlify/functions", "functions", "api"};
  FunctionBlobs functions;
  std::optional<sandbox::UntrustedTree> found;
  for (const std::string& candidate : candidates) {
    auto folder = sandbox::UntrustedTree::Open(
        ws.path.string(), Join({"repo", plan.base_dir, candidate}), "build.functions");
    // The seed's `functions/` and `api/` are only taken when they are plain folders: a file or
    // a link of that name is some other part of the site.
    if (!folder.ok() && folder.error().code != ErrorCode::kNotFound &&
        candidate == candidates.front()) {
      return std::move(folder).error();
    }
    if (folder.ok()) {
      functions_dir = candidate;
      found.emplace(std::move(*folder));
      break;
    }
  }
  if (!found) return functions;
  auto& folder = found;
  RD_TRY(std::vector<FunctionSource> sources, FindFunctions(*folder));
  std::optional<sandbox::UntrustedTree> bundled;
  if (NeedsEsbuild(sources)) {
    if (options_.esbuild.empty() || ::access(options_.esbuild.c_str(), X_OK) != 0) {
      spdlog::error("esbuild not found at '{}' (--esbuild; scripts/install-deps.sh installs it)",
                    options_.esbuild);
      return MakeError(ErrorCode::kUnprocessable,
                       "esbuild, which bundles functions, is not installed on this server");
    }
    // esbuild reads the repository's code and node_modules: it runs in the sandbox like the
    // build command, its binary bound read-only, writing to a folder of ours in the workspace
    // (whatever the build left under that name goes first; read back beneath a descriptor).
    constexpr std::string_view kOut = ".replideploy-functions";
    constexpr std::string_view kEsbuild = "/replideploy-tools/esbuild";
    const fs::path out = ws.path / kOut;
    std::error_code ec;
    fs::remove_all(out, ec);
    fs::create_directory(out, ec);
    if (ec)
      return MakeError(ErrorCode::kInternal, "cannot make the functions' folder: " + ec.message());
    if (ws.user && geteuid() == 0) {
      if (::chown(out.c_str(), ws.user->uid, ws.user->gid) != 0) {
        return MakeError(ErrorCode::kInternal, "cannot give the functions' folder to the build");
      }
    }
    sandbox::SandboxSpec spec;
    spec.argv = {std::string(kEsbuild)};
    for (std::string& arg :
         EsbuildArgs(sources, functions_dir,
                     std::string(sandbox::kWorkspaceMount) + "/" + std::string(kOut))) {
      spec.argv.push_back(std::move(arg));
    }
    spec.workspace = ws.path.string();
    spec.working_subdir = Join({"repo", plan.base_dir});
    spec.network = false;
    spec.limits = options_.limits;
    spec.stop = std::move(stop);
    spec.extra_binds.push_back({options_.esbuild, std::string(kEsbuild), false});
    if (ws.volume) {
      spec.extra_binds.push_back({ws.tmp().string(), "/tmp", true});
      spec.extra_binds.push_back({ws.home().string(), std::string(sandbox::kSandboxHome), true});
    }
    log.Info(fmt::format("Bundling {} function{} from {} with esbuild", sources.size(),
                         sources.size() == 1 ? "" : "s", functions_dir));
    std::string first_error;
    auto result =
        runner_.Run(spec, [&](sandbox::OutputStream s, std::int64_t ts, std::string_view line) {
          if (first_error.empty() && line.find("[ERROR]") != std::string_view::npos) {
            first_error = std::string(line.substr(line.find("[ERROR]") + 7));
            while (!first_error.empty() && first_error.front() == ' ') first_error.erase(0, 1);
          }
          log.Line(sandbox::OutputStreamName(s), ts, line);
        });
    if (!result.ok()) return std::move(result).error();
    if (result->limit != sandbox::LimitHit::kNone) {
      return MakeError(ErrorCode::kUnprocessable, result->limit_message);
    }
    if (!result->Succeeded()) {
      return MakeError(ErrorCode::kUnprocessable,
                       first_error.empty()
                           ? fmt::format("bundling the functions failed (esbuild exited with "
                                         "status {})",
                                         result->exit_code)
                           : "bundling the functions failed: " + first_error);
    }
    // The routes of `export const config`: importing the bundles runs their top-level code, so
    // in the sandbox too, without network, for a minute at most.
    sandbox::SandboxSpec read = spec;
    read.argv = {"/bin/sh", "-c", "exec node --input-type=module -e \"$0\" \"$@\"",
                 std::string(FunctionConfigScript()),
                 std::string(sandbox::kWorkspaceMount) + "/" + std::string(kOut)};
    for (const auto& s : sources) {
      if (s.runtime == "js") read.argv.push_back(s.name);
    }
    read.limits.wall_time =
        std::min(read.limits.wall_time, std::chrono::milliseconds(std::chrono::minutes(1)));
    auto config_read =
        runner_.Run(read, [&](sandbox::OutputStream s, std::int64_t ts, std::string_view line) {
          log.Line(sandbox::OutputStreamName(s), ts, line);
        });
    if (!config_read.ok()) return std::move(config_read).error();
    if (!config_read->Succeeded()) {
      return MakeError(ErrorCode::kUnprocessable,
                       config_read->limit != sandbox::LimitHit::kNone
                           ? "reading the functions' config: " + config_read->limit_message
                           : fmt::format("reading the functions' config failed (node exited with "
                                         "status {})",
                                         config_read->exit_code));
    }
    RD_TRY(bundled, sandbox::UntrustedTree::Open(ws.path.string(), kOut, "functions' bundles"));
  }
  RD_TRY(
      sandbox::UntrustedTree base,
      sandbox::UntrustedTree::Open(ws.path.string(), Join({"repo", plan.base_dir}), "build.base"));
  RD_TRY(IncludedFiles included, IncludedFilesOf(base, plan.config, sources, log));
  RD_TRY(std::vector<FunctionBundle> bundles,
         builder::PackageFunctions(sources, bundled ? &*bundled : nullptr, included));
  if (bundled) {
    RD_TRY(std::optional<std::string> routes,
           bundled->ReadFile(kFunctionConfigFile, std::size_t{1} << 20));
    if (routes) RD_TRY_STATUS(ApplyFunctionConfigs(*routes, bundles));
  }
  ApplyTomlSchedules(plan.config.function_schedules, bundles);
  for (auto& bundle : bundles) {
    RD_TRY(store::BlobInfo blob, blobs_.Put(bundle.zip));
    if (!bundle.config.empty()) configs[bundle.name] = bundle.config;
    functions.push_back({bundle.name, {std::move(blob), bundle.runtime}});
  }
  if (!functions.empty()) {
    log.Info(fmt::format("Packaged {} function{} from {}", functions.size(),
                         functions.size() == 1 ? "" : "s", functions_dir));
  }
  return functions;
}

// The build, step by step: workspace, source, plan, environment, command, output.
}  // namespace replideploy::builder

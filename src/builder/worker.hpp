// A build worker: claims jobs from the queue, fetches the commit into a fresh workspace (from
// the platform's own repository, a public git URL or GitHub), applies the site's settings and
// netlify.toml (builder/build_config.hpp), runs the command in the sandbox, stores the publish
// directory in the blob store and hands it to the deploy service (which publishes production
// deploys). Every output line goes to the deploy's log (build_logs), flushed a few times a
// second so viewers follow it live. A lost lease or a canceled job stops the build. One thread;
// Stop() (also in the destructor) ends the current build and joins.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "builder/build_config.hpp"
#include "builder/build_logs.hpp"
#include "builder/queue.hpp"
#include "deploys/deploys.hpp"
#include "deploys/sites.hpp"
#include "sandbox/runner.hpp"
#include "sandbox/untrusted_tree.hpp"
#include "sandbox/volume.hpp"
#include "store/blob_store.hpp"

namespace replideploy::builder {

// How a build ended, for commit statuses: pending when it starts, success (the deploy is
// ready) or failure (with the reason).
enum class BuildPhase { kStarted, kSucceeded, kFailed };

struct WorkerOptions {
  std::string worker_id;   // unique per worker (host:pid:n)
  std::string builds_dir;  // workspaces, one per build, removed afterwards
  std::string repos_dir;   // the platform's bare repositories, <repos_dir>/<site_id>.git
  // Per-site build caches, <cache_dir>/<site_id>/<scope>.tar, one per trust scope (see
  // CacheScope); "" disables.
  std::string cache_dir;
  // This worker's workspace volume images (a disk quota per build); "" or not root: plain
  // folders without a quota. Cleaned of a crashed predecessor's leftovers at Start().
  std::string volumes_dir;
  sandbox::VolumeLimits disk;
  // Largest build cache kept per site and scope.
  std::int64_t max_cache_bytes = std::int64_t{4} << 30;
  std::chrono::milliseconds idle_poll{1000};
  std::chrono::milliseconds heartbeat_every{5000};
  // The site's settings (build command, publish folder, ...), under netlify.toml's.
  deploys::SiteService* sites = nullptr;
  // The site's environment variables for a build context; their values are masked in logs.
  std::function<Result<std::map<std::string, std::string>>(const std::string& site_id,
                                                           const std::string& context)>
      env_for_build;
  // A token for fetching the site's repository over HTTPS (GitHub); "" for none.
  std::function<std::string(const std::string& site_id)> git_token;
  // Let repository URLs reach loopback and private addresses (tests, self-hosted git).
  bool allow_private_git = false;
  // Repository URLs under this prefix (the configured GitHub's web URL + "/") are trusted
  // configuration, reachable even on a private network (GitHub Enterprise).
  std::string trusted_git_prefix;
  // Told when a build starts and ends (commit statuses). `detail` is the failure reason.
  std::function<void(const BuildJob& job, BuildPhase phase, const std::string& detail)> on_phase;
  // Told when new log lines of a deploy are stored (live log viewers).
  std::function<void(const std::string& deploy_id)> on_log;
  // How long to wait for a built deploy to be processed before reporting its outcome.
  std::chrono::milliseconds processing_wait{std::chrono::minutes(5)};
  sandbox::SandboxLimits limits;
  // What a build may publish (files, bytes, folder depth).
  sandbox::TreeLimits output_limits;
  // The esbuild binary that bundles functions (builder::FindEsbuild); bound read-only into the
  // build's sandbox. "": a build with JavaScript functions fails, saying esbuild is missing.
  std::string esbuild;
};

class BuildWorker {
 public:
  BuildWorker(BuildLogStore& logs, BuildQueue& queue, deploys::DeployService& deploys,
              store::BlobStore& blobs, sandbox::SandboxRunner& runner, WorkerOptions options);
  ~BuildWorker();
  BuildWorker(const BuildWorker&) = delete;
  BuildWorker& operator=(const BuildWorker&) = delete;

  void Start();
  void Wake();
  void Stop();

  // Runs one claimed job to its end (public for tests).
  void RunJob(const BuildJob& job, std::stop_token stop);

 private:
  struct Workspace;
  struct Plan;
  using FunctionBlobs =
      std::vector<std::pair<std::string, std::pair<store::BlobInfo, std::string>>>;

  void Loop(std::stop_token stop);
  // While idle: the next build's network (SandboxRunner::Prepare) and workspace volume, made
  // ahead so that they are off its push-to-live path.
  void PrepareAhead();
  Result<std::unique_ptr<sandbox::WorkspaceVolume>> MakeVolume(const sandbox::BuildUser& user);
  // The build's steps, in order (worker.cpp). `ws` is the build's workspace, kept by the caller
  // until the deploy is processed: taking it down is off the push-to-live path.
  Status Build(const BuildJob& job, std::unique_ptr<Workspace>& ws, std::stop_token stop,
               BuildLogWriter& log);
  Result<std::unique_ptr<Workspace>> PrepareWorkspace(const BuildJob& job, BuildLogWriter& log);
  Status FetchSource(const BuildJob& job, const deploys::BuildSettings& settings,
                     const std::filesystem::path& checkout, BuildLogWriter& log);
  Result<Plan> PlanBuild(const BuildJob& job, const sandbox::UntrustedTree& repo,
                         deploys::BuildSettings settings, BuildLogWriter& log);
  Result<std::vector<std::pair<std::string, std::string>>> BuildEnvironment(const BuildJob& job,
                                                                            const Plan& plan,
                                                                            BuildLogWriter& log);
  Status RunCommand(const BuildJob& job, const Workspace& ws, const Plan& plan,
                    std::vector<std::pair<std::string, std::string>> env, std::stop_token stop,
                    BuildLogWriter& log);
  Status CollectOutput(const BuildJob& job, const Workspace& ws, const Plan& plan,
                       std::stop_token stop, BuildLogWriter& log);
  // The functions folder's functions, bundled by esbuild in the build's sandbox; `configs` gets
  // the routes of those that declare some (name -> functions_config JSON).
  Result<FunctionBlobs> PackageFunctions(const Workspace& ws, const Plan& plan,
                                         std::stop_token stop, BuildLogWriter& log,
                                         std::map<std::string, std::string>& configs);

  BuildLogStore& logs_;
  BuildQueue& queue_;
  deploys::DeployService& deploys_;
  store::BlobStore& blobs_;
  sandbox::SandboxRunner& runner_;
  WorkerOptions options_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;
  // Made by PrepareAhead for the next build; used by the worker thread only.
  std::unique_ptr<sandbox::WorkspaceVolume> spare_volume_;
  std::jthread thread_;
};

}  // namespace replideploy::builder

// A build worker: claims jobs from the queue, clones the commit into a fresh workspace, reads
// netlify.toml ([build] base, command, publish), runs the command in the sandbox, stores the
// publish directory in the blob store and hands it to the deploy service (which publishes
// production deploys). Every output line goes to the deploy's log (build_logs). A lost lease or
// a canceled job stops the build. One thread; Stop() (also in the destructor) ends the current
// build and joins.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "builder/queue.hpp"
#include "builder/sandbox.hpp"
#include "deploys/deploys.hpp"
#include "store/blob_store.hpp"

namespace replideploy::builder {

struct WorkerOptions {
  std::string worker_id;   // unique per worker (host:pid:n)
  std::string builds_dir;  // workspaces, one per job, removed afterwards
  std::string repos_dir;   // the platform's bare repositories, <repos_dir>/<site_id>.git
  std::string cache_dir;   // per-site build caches, <cache_dir>/<site_id>; "" disables
  std::chrono::milliseconds idle_poll{1000};
  // The site's environment variables for a build context; their values are masked in logs.
  std::function<Result<std::map<std::string, std::string>>(const std::string& site_id,
                                                           const std::string& context)>
      env_for_build;
  SandboxLimits limits;
};

// The build's settings, from netlify.toml's [build] table (missing keys stay empty).
struct BuildConfig {
  std::string base;
  std::string command;
  std::string publish;
};
// kUnprocessable "netlify.toml:<line>: ..." for a file that does not parse.
Result<BuildConfig> ReadBuildConfig(const std::string& toml_text);

class BuildWorker {
 public:
  BuildWorker(db::Database& db, BuildQueue& queue, deploys::DeployService& deploys,
              store::BlobStore& blobs, SandboxRunner& runner, WorkerOptions options);
  ~BuildWorker();
  BuildWorker(const BuildWorker&) = delete;
  BuildWorker& operator=(const BuildWorker&) = delete;

  void Start();
  void Wake();
  void Stop();

  // Runs one claimed job to its end (public for tests).
  void RunJob(const BuildJob& job, std::stop_token stop);

 private:
  void Loop(std::stop_token stop);
  Status Build(const BuildJob& job, std::stop_token stop, class BuildLog& log);

  db::Database& db_;
  BuildQueue& queue_;
  deploys::DeployService& deploys_;
  store::BlobStore& blobs_;
  SandboxRunner& runner_;
  WorkerOptions options_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;
  std::jthread thread_;
};

}  // namespace replideploy::builder

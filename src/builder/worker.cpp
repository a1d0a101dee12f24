#include "builder/worker.hpp"

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
#include "builder/worker_internal.hpp"
#include "core/metrics.hpp"
#include "deploys/env_vars.hpp"
#include "sandbox/untrusted_tree.hpp"

namespace replideploy::builder {

namespace fs = std::filesystem;

// `relative` normalized ("" for the folder itself), or an error when it could leave it.
Result<std::string> RelativeInside(const std::string& relative, std::string_view what) {
  const fs::path p = fs::path(relative).lexically_normal();
  if (fs::path(relative).is_absolute() || (!p.empty() && *p.begin() == "..")) {
    return MakeError(ErrorCode::kUnprocessable, std::string(what) + " '" + relative +
                                                    "' must be a folder inside the repository");
  }
  std::string out = p.generic_string();
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out == "." ? std::string() : out;
}

std::string Join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

BuildWorker::BuildWorker(BuildLogStore& logs, BuildQueue& queue, deploys::DeployService& deploys,
                         store::BlobStore& blobs, sandbox::SandboxRunner& runner,
                         WorkerOptions options)
    : logs_(logs),
      queue_(queue),
      deploys_(deploys),
      blobs_(blobs),
      runner_(runner),
      options_(std::move(options)) {}

BuildWorker::~BuildWorker() { Stop(); }

namespace {

// replideploy_build_duration_seconds{outcome}: a build's time from claim to its end; the _count
// is the number of builds that ended so.
void RecordBuild(std::string_view outcome, std::chrono::steady_clock::time_point started) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  core::metrics::Default()
      .GetHistogram("replideploy_build_duration_seconds",
                    "Builds by outcome (succeeded, failed, handed_back at shutdown, lost: "
                    "canceled or lease expired) and their duration; _count is the number of "
                    "builds.",
                    core::metrics::BuildDurationBuckets(), {{"outcome", std::string(outcome)}})
      .Observe(seconds);
}

}  // namespace

void BuildWorker::Start() {
  std::error_code ec;
  fs::create_directories(options_.builds_dir, ec);
  // bwrap binds the workspace as the build user, who must be able to walk down to it: add the
  // search bit (never read) to the directories above it that lack it.
  if (geteuid() == 0) {
    for (fs::path dir = fs::absolute(options_.builds_dir, ec);
         !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      const auto perms = fs::status(dir, ec).permissions();
      if (ec || (perms & fs::perms::others_exec) != fs::perms::none) continue;
      fs::permissions(dir, fs::perms::others_exec, fs::perm_options::add, ec);
      spdlog::info("made {} searchable (o+x) so sandboxed builds can reach their workspace",
                   dir.string());
    }
  }
  // Workspace volumes a crashed process left behind: this worker's own folder, and the folders
  // of workers whose process is gone (named <pid>-<n>).
  if (!options_.volumes_dir.empty()) {
    sandbox::RemoveStaleVolumes(options_.volumes_dir);
    const fs::path all = fs::path(options_.volumes_dir).parent_path();
    for (const auto& entry : fs::directory_iterator(all, ec)) {
      const std::string name = entry.path().filename().string();
      const pid_t owner = static_cast<pid_t>(std::atol(name.c_str()));
      if (owner <= 0 || owner == getpid() || kill(owner, 0) == 0 || errno != ESRCH) continue;
      sandbox::RemoveStaleVolumes(entry.path().string());
      fs::remove(entry.path(), ec);
    }
  }
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

void BuildWorker::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void BuildWorker::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  cv_.notify_all();
  thread_.join();
}

void BuildWorker::Loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<BuildJob> failed;
    auto job = queue_.Claim(options_.worker_id, &failed);
    for (const auto& f : failed) (void)deploys_.FailDeploy(f.deploy_id, f.last_error);
    if (job.ok() && job->has_value()) {
      RunJob(**job, stop);
      continue;
    }
    if (!job.ok()) spdlog::error("build queue: {}", job.error().message);
    PrepareAhead();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, options_.idle_poll, [this] { return woken_; });
    woken_ = false;
  }
}

void BuildWorker::RunJob(const BuildJob& job, std::stop_token stop) {
  BuildLogWriter log(logs_, job.deploy_id, options_.on_log);
  auto building = deploys_.MarkBuilding(job.deploy_id);
  if (!building.ok() || !*building) {
    (void)queue_.Complete(job.id, options_.worker_id);
    return;
  }
  if (options_.on_phase) options_.on_phase(job, BuildPhase::kStarted, "");
  const auto started = std::chrono::steady_clock::now();
  // Renew the lease while the build runs (a lost lease, or a canceled job, stops the build),
  // and flush the log a few times a second for live viewers.
  std::stop_source cancel;
  std::atomic<bool> lease_lost{false};
  std::stop_callback on_shutdown(stop, [&] { cancel.request_stop(); });
  std::jthread heartbeat([&](const std::stop_token& hb_stop) {
    auto next_beat = std::chrono::steady_clock::now() + options_.heartbeat_every;
    for (;;) {
      const bool slept = core::SleepUnlessStopped(hb_stop, std::chrono::milliseconds(250));
      log.Flush();
      if (!slept) return;
      if (std::chrono::steady_clock::now() < next_beat) continue;
      next_beat = std::chrono::steady_clock::now() + options_.heartbeat_every;
      auto alive = queue_.Heartbeat(job.id, options_.worker_id);
      if (alive.ok() && !*alive) {
        lease_lost = true;
        cancel.request_stop();
      }
    }
  });
  log.Info(fmt::format("Build of {} ({}) started by worker {}, attempt {}", job.branch,
                       job.commit_sha.substr(0, 12), options_.worker_id, job.attempts));
  // Declared before everything that may use it: it goes last, once the deploy is processed.
  std::unique_ptr<Workspace> ws;
  Status st = Build(job, ws, cancel.get_token(), log);
  std::string failure;
  if (st.ok()) {
    log.Info("Build finished; the deploy is being processed");
    // Wait for processing, so the outcome (and the commit status) is the deploy's.
    const auto until = std::chrono::steady_clock::now() + options_.processing_wait;
    for (;;) {
      auto deploy = deploys_.GetForBuild(job.deploy_id);
      if (!deploy.ok()) break;
      if (deploy->state == "ready") {
        for (const auto& m : deploy->messages) log.Info("Warning: " + m.description);
        log.Info(deploy->published ? "Deploy is live" : "Deploy is ready");
        break;
      }
      if (deploy->state == "error" || deploy->state == "canceled") {
        failure = deploy->error_message.empty() ? "the deploy was " + deploy->state
                                                : deploy->error_message;
        log.Info("Deploy failed: " + failure);
        break;
      }
      if (std::chrono::steady_clock::now() > until || cancel.stop_requested()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } else {
    failure = st.error().message;
    log.Info("Build failed: " + failure);
  }
  heartbeat.request_stop();
  heartbeat.join();
  if (!st.ok() && (lease_lost || stop.stop_requested())) {
    // Not this build's fault: the job was canceled or taken over (lost lease), or this worker
    // is shutting down and hands the job back for another worker to retry.
    if (stop.stop_requested() && !lease_lost) {
      log.Info("The worker is stopping; the build will be retried");
      (void)queue_.Release(job.id, options_.worker_id);
      RecordBuild("handed_back", started);
    } else {
      log.Info("This worker lost the build (canceled, or its lease expired)");
      RecordBuild("lost", started);
    }
    log.Flush();
    return;
  }
  // Every line is stored before the deploy and the job end: log viewers stop at that point.
  log.Flush();
  RecordBuild(failure.empty() ? "succeeded" : "failed", started);
  if (st.ok()) {
    (void)queue_.Complete(job.id, options_.worker_id);
  } else {
    (void)deploys_.FailDeploy(job.deploy_id, failure);
    (void)queue_.Fail(job.id, options_.worker_id, failure);
  }
  if (options_.on_phase) {
    options_.on_phase(job, failure.empty() ? BuildPhase::kSucceeded : BuildPhase::kFailed, failure);
  }
}

void BuildWorker::PrepareAhead() {
  runner_.Prepare();
  if (spare_volume_ || options_.volumes_dir.empty() || geteuid() != 0) return;
  auto user = sandbox::EnsureBuildUser("replideploy-build");
  if (!user.ok()) return;
  auto made = MakeVolume(*user);
  // A failure is left for the next build to meet and report.
  if (made.ok()) spare_volume_ = std::move(*made);
}

Result<std::unique_ptr<sandbox::WorkspaceVolume>> BuildWorker::MakeVolume(
    const sandbox::BuildUser& user) {
  std::error_code ec;
  fs::create_directories(options_.volumes_dir, ec);
  fs::permissions(options_.volumes_dir, fs::perms::owner_all, ec);
  // Not named after a job: a volume made ahead has none yet.
  static std::atomic<std::uint64_t> counter{0};
  const std::string name = fmt::format("ws-{}-{}", getpid(), counter.fetch_add(1));
  return sandbox::WorkspaceVolume::Create(
      (fs::path(options_.builds_dir) / name).string(),
      (fs::path(options_.volumes_dir) / (name + ".img")).string(), options_.disk, user.uid,
      user.gid);
}

namespace {

constexpr std::size_t kMaxConfigFileBytes = 1 << 20;

// A file of the checkout that the worker reads for its own decisions (netlify.toml,
// package.json): "" when missing; an error when it is a link (never followed: it could name a
// host file) or something else that is not a regular file.
Result<std::string> ReadConfigFile(const sandbox::UntrustedTree& tree, std::string_view name) {
  const sandbox::EntryType type = tree.Type(name);
  if (type == sandbox::EntryType::kSymlink) {
    return MakeError(ErrorCode::kUnprocessable,
                     std::string(name) + " is a symbolic link; it must be a regular file");
  }
  if (type != sandbox::EntryType::kMissing && type != sandbox::EntryType::kFile) {
    return MakeError(ErrorCode::kUnprocessable, std::string(name) + " is not a regular file");
  }
  RD_TRY(std::optional<std::string> text, tree.ReadFile(name, kMaxConfigFileBytes));
  return text.value_or("");
}

// Whether the volume at `path` is full (space or inodes): the build hit its disk quota.
bool VolumeFull(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return false;
  constexpr unsigned long long kSlack = 1 << 20;
  return static_cast<unsigned long long>(st.f_bavail) * st.f_frsize < kSlack || st.f_favail == 0;
}

std::string Mebibytes(std::int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

Result<std::unique_ptr<BuildWorker::Workspace>> BuildWorker::PrepareWorkspace(const BuildJob& job,
                                                                              BuildLogWriter& log) {
  auto ws = std::make_unique<Workspace>();
  auto user = sandbox::EnsureBuildUser("replideploy-build");
  if (user.ok()) ws->user = *user;
  if (!options_.volumes_dir.empty() && geteuid() == 0 && ws->user) {
    // The one made ahead while idle (fresh: no build has used it), else a new one.
    auto made = spare_volume_
                    ? Result<std::unique_ptr<sandbox::WorkspaceVolume>>(std::move(spare_volume_))
                    : MakeVolume(*ws->user);
    if (made.ok()) {
      ws->volume = std::move(*made);
      ws->path = ws->volume->path();
      return ws;
    }
    log.Info("The build's disk quota is not enforced: " + made.error().message);
  }
  ws->path = fs::path(options_.builds_dir) / job.id;
  std::error_code ec;
  fs::remove_all(ws->path, ec);
  fs::create_directories(ws->path, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot create the workspace: " + ec.message());
  return ws;
}

Status BuildWorker::FetchSource(const BuildJob& job, const deploys::BuildSettings& settings,
                                const fs::path& checkout, BuildLogWriter& log) {
  GitSource source;
  if (job.repo_url.empty()) {
    source.url = (fs::path(options_.repos_dir) / (job.site_id + ".git")).string();
  } else {
    source.url = job.repo_url;
    source.allow_private =
        options_.allow_private_git || (!options_.trusted_git_prefix.empty() &&
                                       job.repo_url.starts_with(options_.trusted_git_prefix));
    if (options_.git_token) source.token = options_.git_token(job.site_id);
    log.Info("Fetching " + job.repo_url);
  }
  const bool github = settings.provider == "github" && !job.repo_url.empty();
  if (github && source.token.empty()) {
    log.Info("The site's owner has no GitHub connection: only a public repository can be fetched");
  }
  if (Status fetched = FetchCommit(source, job.commit_sha, job.branch, checkout.string(),
                                   [&](std::string_view line) { log.Info(line); });
      !fetched.ok()) {
    if (!github) return fetched;
    return MakeError(
        ErrorCode::kUnprocessable,
        fetched.error().message + " (for a private repository: reconnect GitHub in the dashboard)");
  }
  std::error_code ec;
  fs::remove_all(checkout / ".git", ec);
  return {};
}

Result<BuildWorker::Plan> BuildWorker::PlanBuild(const BuildJob& job,
                                                 const sandbox::UntrustedTree& repo,
                                                 deploys::BuildSettings settings,
                                                 BuildLogWriter& log) {
  Plan plan;
  plan.settings = std::move(settings);
  // netlify.toml over the site's settings ([build], then the context's sections).
  plan.context = job.context.empty() ? "production" : job.context;
  RD_TRY(const std::string root_toml, ReadConfigFile(repo, "netlify.toml"));
  if (!root_toml.empty()) {
    RD_TRY(plan.config, ReadBuildConfig(root_toml, plan.context, job.branch));
    log.Info("Using netlify.toml (context " + plan.context + ")");
    plan.config_toml = root_toml;
  }
  RD_TRY(plan.base_dir,
         RelativeInside(plan.config.base.value_or(plan.settings.base), "build.base"));
  RD_TRY(sandbox::UntrustedTree base, repo.Subtree(plan.base_dir, "build.base"));
  // A netlify.toml in the base directory counts too (monorepos), when the root has none.
  if (!plan.base_dir.empty() && root_toml.empty()) {
    RD_TRY(const std::string base_toml, ReadConfigFile(base, "netlify.toml"));
    if (!base_toml.empty()) {
      RD_TRY(plan.config, ReadBuildConfig(base_toml, plan.context, job.branch));
      log.Info("Using " + plan.base_dir + "/netlify.toml (context " + plan.context + ")");
      plan.config_toml = base_toml;
    }
  }

  // Nothing configured: detect the framework; with a package.json, install dependencies first.
  using sandbox::EntryType;
  ProjectFiles& project = plan.project;
  RD_TRY(project.package_json, ReadConfigFile(base, "package.json"));
  project.has_package_lock = base.Type("package-lock.json") == EntryType::kFile;
  project.has_yarn_lock = base.Type("yarn.lock") == EntryType::kFile;
  project.has_pnpm_lock = base.Type("pnpm-lock.yaml") == EntryType::kFile;
  project.has_hugo_config = (base.Type("hugo.toml") == EntryType::kFile ||
                             base.Type("config.toml") == EntryType::kFile) &&
                            base.Type("content") == EntryType::kDirectory;
  RD_TRY(DetectedBuild detected, DetectBuild(project));
  plan.command = plan.config.command.value_or(plan.settings.cmd);
  plan.publish_setting = plan.config.publish.value_or(plan.settings.dir);
  if (plan.command.empty() && plan.publish_setting.empty()) {
    plan.command = detected.build_command;
    plan.publish_setting = detected.publish;
    log.Info("Detected " + detected.framework +
             (detected.package_manager.empty() ? "" : " (" + detected.package_manager + ")"));
  }
  if (!detected.install_command.empty()) {
    plan.command = detected.install_command + (plan.command.empty() ? "" : " && " + plan.command);
  }
  RD_TRY(plan.publish_dir, RelativeInside(plan.publish_setting, "build.publish"));
  return plan;
}

Result<std::vector<std::pair<std::string, std::string>>> BuildWorker::BuildEnvironment(
    const BuildJob& job, const Plan& plan, BuildLogWriter& log) {
  // Netlify's read-only build variables, then netlify.toml's environment, then the site's
  // variables (secret: masked in the log; withheld from pull requests from forks).
  std::vector<std::pair<std::string, std::string>> env = {
      {"NETLIFY", "true"},
      {"CONTEXT", plan.context},
      {"BRANCH", job.branch},
      {"HEAD", job.branch},
      {"COMMIT_REF", job.commit_sha},
      {"BUILD_ID", job.id},
      {"DEPLOY_ID", job.deploy_id},
      {"SITE_ID", job.site_id},
      {"PULL_REQUEST", job.review_id ? "true" : "false"},
      {"npm_config_cache", "/workspace/.cache/npm"},
      {"YARN_CACHE_FOLDER", "/workspace/.cache/yarn"},
      {"COREPACK_HOME", "/workspace/.cache/corepack"},
      {"NEXT_TELEMETRY_DISABLED", "1"},
      {"ASTRO_TELEMETRY_DISABLED", "1"}};
  if (job.review_id) env.emplace_back("REVIEW_ID", std::to_string(*job.review_id));
  for (const auto& [k, v] : plan.config.environment) env.emplace_back(k, v);
  if (options_.env_for_build && job.allow_secrets) {
    RD_TRY(auto vars, options_.env_for_build(job.site_id, plan.context));
    std::vector<std::string> secrets;
    for (auto& [k, v] : vars) {
      secrets.push_back(v);
      env.emplace_back(k, v);
    }
    log.SetSecrets(std::move(secrets));
    if (!vars.empty()) log.Info(fmt::format("{} environment variables set", vars.size()));
  } else if (!job.allow_secrets) {
    log.Info("Pull request from a fork: the site's environment variables are withheld");
  }
  return env;
}

Status BuildWorker::RunCommand(const BuildJob& job, const Workspace& ws, const Plan& plan,
                               std::vector<std::pair<std::string, std::string>> env,
                               std::stop_token stop, BuildLogWriter& log) {
  sandbox::SandboxSpec spec;
  spec.argv = {"/bin/sh", "-c", plan.command};
  spec.workspace = ws.path.string();
  spec.working_subdir = Join({"repo", plan.base_dir});
  spec.env = std::move(env);
  spec.limits = options_.limits;
  spec.stop = std::move(stop);
  if (ws.volume) {
    // Made by us; nothing of the build has run here yet (the cache is unpacked by tar), so
    // neither is a link. bwrap binds them as the build user in any case.
    spec.extra_binds.push_back({ws.tmp().string(), "/tmp", true});
    spec.extra_binds.push_back({ws.home().string(), std::string(sandbox::kSandboxHome), true});
  }
  // The site's build cache for this build's trust scope, unpacked and packed by the sandbox.
  std::optional<BuildCache> cache;
  if (!options_.cache_dir.empty() && !plan.project.package_json.empty()) {
    cache.emplace((fs::path(options_.cache_dir) / job.site_id).string(), ScopeOf(job),
                  options_.max_cache_bytes);
    auto restored = cache->Restore(runner_, spec, plan.base_dir);
    if (!restored.ok()) {
      log.Info("Build cache not used: " + restored.error().message);
    } else if (!restored->empty()) {
      log.Info(*restored);
    }
  }
  log.Info("$ " + plan.command);
  auto result =
      runner_.Run(spec, [&](sandbox::OutputStream s, std::int64_t ts, std::string_view line) {
        log.Line(sandbox::OutputStreamName(s), ts, line);
      });
  if (!result.ok()) return std::move(result).error();
  if (result->network != "public internet") log.Info("Network: " + result->network);
  if (result->limit != sandbox::LimitHit::kNone) {
    return MakeError(ErrorCode::kUnprocessable, result->limit_message);
  }
  if (!result->Succeeded()) {
    if (ws.volume && VolumeFull(ws.volume->path())) {
      return MakeError(ErrorCode::kUnprocessable,
                       "build exceeded its disk quota (" + Mebibytes(options_.disk.bytes) + " or " +
                           std::to_string(options_.disk.inodes) + " files)");
    }
    return MakeError(ErrorCode::kUnprocessable,
                     fmt::format("the build command exited with status {}", result->exit_code));
  }
  // Only a successful build's dependencies are kept for the next one.
  if (cache) {
    auto saved = cache->Save(runner_, spec, plan.base_dir, job);
    log.Info(saved.ok() ? *saved : "Build cache not saved: " + saved.error().message);
  }
  return {};
}

Status BuildWorker::CollectOutput(const BuildJob& job, const Workspace& ws, const Plan& plan,
                                  std::stop_token stop, BuildLogWriter& log) {
  auto publish = sandbox::UntrustedTree::Open(
      ws.path.string(), Join({"repo", plan.base_dir, plan.publish_dir}), "build.publish");
  if (!publish.ok() && publish.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kUnprocessable, "the publish folder '" + plan.publish_setting +
                                                    "' does not exist after the build");
  }
  if (!publish.ok()) return std::move(publish).error();
  std::vector<std::pair<std::string, store::BlobInfo>> files;
  int skipped = 0;
  sandbox::UntrustedTree::WalkOptions walk;
  walk.limits = options_.output_limits;
  walk.skip_directory = [](std::string_view path) {
    return path == ".git" || path == "node_modules" || path == ".cache";
  };
  walk.on_skip = [&](std::string_view path, std::string_view reason) {
    if (++skipped <= 20) log.Info(fmt::format("Not published: {} ({})", path, reason));
  };
  RD_TRY_STATUS(publish->Walk(walk, [&](const sandbox::UntrustedTree::File& file) -> Status {
    RD_TRY(store::BlobInfo blob, blobs_.PutFd(file.fd, file.path));
    files.emplace_back(file.path, std::move(blob));
    return {};
  }));
  if (skipped > 20) log.Info(fmt::format("Not published: {} more entries", skipped - 20));
  // Netlify applies the [[redirects]] and [[headers]] of the netlify.toml the build used,
  // wherever the publish folder is. The edge reads them from the deploy's /netlify.toml (never
  // served), so that file is the build's configuration as read before the build ran, not
  // whatever the publish folder holds under that name.
  if (!plan.config_toml.empty()) {
    std::erase_if(files, [](const auto& f) { return f.first == "netlify.toml"; });
    RD_TRY(store::BlobInfo blob, blobs_.Put(plan.config_toml));
    files.emplace_back("netlify.toml", std::move(blob));
  }
  std::map<std::string, std::string> configs;
  RD_TRY(auto functions, PackageFunctions(ws, plan, std::move(stop), log, configs));
  log.Info(fmt::format("Publishing {} files", files.size()));
  // The build's lines are stored before the deploy can become ready.
  log.Flush();
  return deploys_.AttachBuildOutput(job.deploy_id, files, functions, configs);
}

Status BuildWorker::Build(const BuildJob& job, std::unique_ptr<Workspace>& ws, std::stop_token stop,
                          BuildLogWriter& log) {
  RD_TRY(ws, PrepareWorkspace(job, log));
  // The site's settings: its provider here, its build settings under netlify.toml's below.
  deploys::BuildSettings settings;
  if (options_.sites != nullptr) {
    auto site = options_.sites->GetById(job.site_id);
    if (site.ok()) settings = site->build_settings;
  }
  RD_TRY_STATUS(FetchSource(job, settings, ws->path / "repo", log));
  if (stop.stop_requested()) return MakeError(ErrorCode::kUnprocessable, "the build was canceled");

  // From here on the checkout is the repository's (links included) and, once the build runs,
  // the build's: it is only ever read beneath a descriptor (sandbox/untrusted_tree.hpp).
  RD_TRY(sandbox::UntrustedTree repo,
         sandbox::UntrustedTree::Open(ws->path.string(), "repo", "the checkout"));
  RD_TRY(Plan plan, PlanBuild(job, repo, std::move(settings), log));

  // With a volume, the build's /tmp and HOME are folders on it: the disk quota covers them too
  // (a tmpfs would count against memory, and its filling up would not name a limit).
  if (ws->volume) {
    std::error_code ec;
    fs::create_directory(ws->tmp(), ec);
    fs::create_directory(ws->home(), ec);
    if (ec) {
      return MakeError(ErrorCode::kInternal, "cannot create the build's /tmp: " + ec.message());
    }
  }
  if (ws->user && geteuid() == 0)
    RD_TRY_STATUS(sandbox::GiveTreeToUser(ws->path.string(), *ws->user));

  RD_TRY(auto env, BuildEnvironment(job, plan, log));
  if (!plan.command.empty()) {
    RD_TRY_STATUS(RunCommand(job, *ws, plan, std::move(env), stop, log));
  }
  return CollectOutput(job, *ws, plan, std::move(stop), log);
}

}  // namespace replideploy::builder

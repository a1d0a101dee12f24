#include "builder/worker.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "builder/detect.hpp"
#include "deploys/env_vars.hpp"

namespace replideploy::builder {

namespace fs = std::filesystem;

// Appends a deploy's output lines to build_logs, in batches.
class BuildLog {
 public:
  BuildLog(db::Database& db, std::string deploy_id) : db_(db), deploy_id_(std::move(deploy_id)) {}
  ~BuildLog() { Flush(); }
  void SetSecrets(std::vector<std::string> secrets) { secrets_ = std::move(secrets); }
  void Line(std::string_view stream, std::int64_t ts, std::string_view text) {
    pending_.push_back(
        {next_seq_++, ts, std::string(stream), deploys::MaskSecrets(text, secrets_)});
    if (pending_.size() >= 50) Flush();
  }
  void Info(std::string_view text) {
    Line("info",
         std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count(),
         text);
  }
  void Flush() {
    if (pending_.empty()) return;
    std::string sql = "INSERT INTO build_logs (deploy_id, seq, ts, stream, line) VALUES ";
    db::Params params;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      sql += i == 0 ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)";
      params.insert(params.end(), {deploy_id_, pending_[i].seq, pending_[i].ts, pending_[i].stream,
                                   pending_[i].line});
    }
    if (auto st = db_.Exec(sql, params); !st.ok()) {
      spdlog::error("deploy {}: cannot store log lines: {}", deploy_id_, st.error().message);
    }
    pending_.clear();
  }

 private:
  struct Entry {
    std::int64_t seq;
    std::int64_t ts;
    std::string stream;
    std::string line;
  };
  db::Database& db_;
  std::string deploy_id_;
  std::int64_t next_seq_ = 0;
  std::vector<Entry> pending_;
  std::vector<std::string> secrets_;
};

namespace {

// Runs a host command (git) without a shell; output goes to the log.
Status RunHost(const std::vector<std::string>& argv, BuildLog& log) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return MakeError(ErrorCode::kInternal, "pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return MakeError(ErrorCode::kInternal, "fork failed");
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) log.Info(line);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError(ErrorCode::kUnprocessable, argv[0] + " " + argv[1] + " failed");
  }
  return {};
}

// A relative path inside the checkout, or an error for anything that could leave it.
Result<fs::path> Inside(const fs::path& root, const std::string& relative, std::string_view what) {
  // Compared by path components: "/w/repo2" is not inside "/w/repo", "a..b" is a fine name.
  const fs::path p = (root / relative).lexically_normal();
  const fs::path rel = p.lexically_relative(root.lexically_normal());
  if (fs::path(relative).is_absolute() || rel.empty() || *rel.begin() == "..") {
    return MakeError(ErrorCode::kUnprocessable, std::string(what) + " '" + relative +
                                                    "' must be a folder inside the repository");
  }
  return p;
}

}  // namespace

Result<BuildConfig> ReadBuildConfig(const std::string& toml_text) {
  toml::table table;
  try {
    table = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kUnprocessable,
                     fmt::format("netlify.toml:{}: {}", e.source().begin.line, e.description()));
  }
  BuildConfig config;
  if (const toml::table* build = table["build"].as_table()) {
    config.base = (*build)["base"].value_or(std::string());
    config.command = (*build)["command"].value_or(std::string());
    config.publish = (*build)["publish"].value_or(std::string());
  }
  return config;
}

BuildWorker::BuildWorker(db::Database& db, BuildQueue& queue, deploys::DeployService& deploys,
                         store::BlobStore& blobs, SandboxRunner& runner, WorkerOptions options)
    : db_(db),
      queue_(queue),
      deploys_(deploys),
      blobs_(blobs),
      runner_(runner),
      options_(std::move(options)) {}

BuildWorker::~BuildWorker() { Stop(); }

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
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, options_.idle_poll, [this] { return woken_; });
    woken_ = false;
  }
}

void BuildWorker::RunJob(const BuildJob& job, std::stop_token stop) {
  BuildLog log(db_, job.deploy_id);
  auto building = deploys_.MarkBuilding(job.deploy_id);
  if (!building.ok() || !*building) {
    (void)queue_.Complete(job.id, options_.worker_id);
    return;
  }
  // Renew the lease while the build runs; a lost lease (or a canceled job) stops the build.
  std::stop_source cancel;
  std::stop_callback on_shutdown(stop, [&] { cancel.request_stop(); });
  std::jthread heartbeat([&](std::stop_token hb_stop) {
    const auto every = std::chrono::milliseconds(5000);
    std::mutex m;
    std::condition_variable_any cv;
    while (!hb_stop.stop_requested()) {
      std::unique_lock lock(m);
      cv.wait_for(lock, hb_stop, every, [] { return false; });
      if (hb_stop.stop_requested()) return;
      auto alive = queue_.Heartbeat(job.id, options_.worker_id);
      if (alive.ok() && !*alive) cancel.request_stop();
    }
  });
  log.Info(fmt::format("Build of {} ({}) started by worker {}, attempt {}", job.branch,
                       job.commit_sha.substr(0, 12), options_.worker_id, job.attempts));
  Status st = Build(job, cancel.get_token(), log);
  heartbeat.request_stop();
  heartbeat.join();
  if (st.ok()) {
    log.Info("Build finished; the deploy is being published");
    (void)queue_.Complete(job.id, options_.worker_id);
  } else {
    log.Info("Build failed: " + st.error().message);
    (void)deploys_.FailDeploy(job.deploy_id, st.error().message);
    (void)queue_.Fail(job.id, options_.worker_id, st.error().message);
  }
  log.Flush();
  std::error_code ec;
  fs::remove_all(fs::path(options_.builds_dir) / job.id, ec);
}

Status BuildWorker::Build(const BuildJob& job, std::stop_token stop, BuildLog& log) {
  const fs::path workspace = fs::path(options_.builds_dir) / job.id;
  std::error_code ec;
  fs::remove_all(workspace, ec);
  fs::create_directories(workspace, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot create the workspace: " + ec.message());
  const fs::path checkout = workspace / "repo";
  const std::string repo = (fs::path(options_.repos_dir) / (job.site_id + ".git")).string();
  RD_TRY_STATUS(
      RunHost({"git", "clone", "--quiet", "--no-checkout", repo, checkout.string()}, log));
  RD_TRY_STATUS(RunHost({"git", "-C", checkout.string(), "-c", "advice.detachedHead=false",
                         "checkout", "--quiet", job.commit_sha},
                        log));
  fs::remove_all(checkout / ".git", ec);

  BuildConfig config;
  if (std::ifstream in(checkout / "netlify.toml"); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    RD_TRY(config, ReadBuildConfig(ss.str()));
  }
  RD_TRY(fs::path base, Inside(checkout, config.base, "build.base"));

  // Nothing configured: detect the framework; with a package.json, install dependencies first.
  ProjectFiles project;
  if (std::ifstream pkg(base / "package.json"); pkg) {
    std::stringstream ss;
    ss << pkg.rdbuf();
    project.package_json = ss.str();
  }
  project.has_package_lock = fs::exists(base / "package-lock.json", ec);
  project.has_yarn_lock = fs::exists(base / "yarn.lock", ec);
  project.has_pnpm_lock = fs::exists(base / "pnpm-lock.yaml", ec);
  project.has_hugo_config =
      (fs::exists(base / "hugo.toml", ec) || fs::exists(base / "config.toml", ec)) &&
      fs::is_directory(base / "content", ec);
  RD_TRY(DetectedBuild detected, DetectBuild(project));
  std::string command = config.command;
  std::string publish_dir = config.publish;
  if (command.empty() && config.publish.empty()) {
    command = detected.build_command;
    publish_dir = detected.publish;
    log.Info("Detected " + detected.framework +
             (detected.package_manager.empty() ? "" : " (" + detected.package_manager + ")"));
  }
  if (!detected.install_command.empty()) {
    command = detected.install_command + (command.empty() ? "" : " && " + command);
  }
  RD_TRY(fs::path publish, Inside(base, publish_dir, "build.publish"));

  auto user = EnsureBuildUser("replideploy-build");
  if (user.ok() && geteuid() == 0) RD_TRY_STATUS(GiveTreeToUser(workspace.string(), *user));
  // The site's build cache (node_modules and the package managers' caches) moves in before
  // the build and back out after it: a rename each way, on the same file system.
  const fs::path cache =
      options_.cache_dir.empty() ? fs::path() : fs::path(options_.cache_dir) / job.site_id;
  const std::vector<std::pair<fs::path, fs::path>> cached = {
      {cache / "node_modules", base / "node_modules"},
      {cache / "home-cache", workspace / ".cache"}};
  if (!cache.empty() && !project.package_json.empty()) {
    for (const auto& [stored, live] : cached) {
      if (fs::exists(stored, ec) && !fs::exists(live, ec)) {
        fs::rename(stored, live, ec);
        if (!ec) log.Info("Restored build cache: " + live.filename().string());
      }
    }
  }

  std::vector<std::pair<std::string, std::string>> site_env;
  if (options_.env_for_build) {
    auto deploy = deploys_.GetForBuild(job.deploy_id);
    const std::string context = deploy.ok() ? deploy->context : "production";
    RD_TRY(auto vars, options_.env_for_build(job.site_id, context));
    std::vector<std::string> secrets;
    for (auto& [k, v] : vars) {
      secrets.push_back(v);
      site_env.emplace_back(k, v);
    }
    log.SetSecrets(std::move(secrets));
    if (!site_env.empty()) log.Info(fmt::format("{} environment variables set", site_env.size()));
  }

  if (!command.empty()) {
    log.Info("$ " + command);
    SandboxSpec spec;
    spec.argv = {"/bin/sh", "-c", command};
    spec.workspace = workspace.string();
    spec.working_subdir = fs::relative(base, workspace).string();
    spec.env = {{"CONTEXT", "production"},
                {"BRANCH", job.branch},
                {"COMMIT_REF", job.commit_sha},
                {"npm_config_cache", "/workspace/.cache/npm"},
                {"YARN_CACHE_FOLDER", "/workspace/.cache/yarn"},
                {"COREPACK_HOME", "/workspace/.cache/corepack"},
                {"NEXT_TELEMETRY_DISABLED", "1"},
                {"ASTRO_TELEMETRY_DISABLED", "1"}};
    spec.env.insert(spec.env.end(), site_env.begin(), site_env.end());
    spec.limits = options_.limits;
    spec.stop = stop;
    auto result = runner_.Run(spec, [&](OutputStream s, std::int64_t ts, std::string_view line) {
      log.Line(OutputStreamName(s), ts, line);
    });
    if (!cache.empty() && !project.package_json.empty()) {
      fs::create_directories(cache, ec);
      for (const auto& [stored, live] : cached) {
        if (!fs::exists(live, ec)) continue;
        fs::remove_all(stored, ec);
        fs::rename(live, stored, ec);
      }
    }
    if (!result.ok()) return std::move(result).error();
    if (result->limit != LimitHit::kNone) {
      return MakeError(ErrorCode::kUnprocessable, result->limit_message);
    }
    if (!result->Succeeded()) {
      return MakeError(ErrorCode::kUnprocessable,
                       fmt::format("the build command exited with status {}", result->exit_code));
    }
  }
  if (!fs::is_directory(publish, ec)) {
    return MakeError(ErrorCode::kUnprocessable,
                     "the publish folder '" + publish_dir + "' does not exist after the build");
  }
  std::vector<std::pair<std::string, store::BlobInfo>> files;
  for (auto it = fs::recursive_directory_iterator(publish, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Only regular files: a symlink could point anywhere on the host.
    if (it->is_symlink() || !it->is_regular_file()) continue;
    const std::string rel = it->path().lexically_relative(publish).generic_string();
    if (rel.starts_with(".git/") || rel == ".git" || rel.starts_with("node_modules/") ||
        rel.starts_with(".cache/")) {
      continue;
    }
    RD_TRY(store::BlobInfo blob, blobs_.PutFile(it->path().string()));
    files.emplace_back(rel, std::move(blob));
  }
  if (ec) return MakeError(ErrorCode::kInternal, "cannot read the publish folder: " + ec.message());
  log.Info(fmt::format("Publishing {} files", files.size()));
  return deploys_.AttachBuildOutput(job.deploy_id, files);
}

}  // namespace replideploy::builder

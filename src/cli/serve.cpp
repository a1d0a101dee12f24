#include "cli/serve.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "api/app.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"
#include "db/database.hpp"
#include "db/migrate.hpp"
#include "http/server.hpp"
#include "sandbox/egress.hpp"
#include "store/blob_store.hpp"

namespace replideploy::cli {

namespace {

int Fail(std::string_view message) {
  fmt::print(stderr, "replideploy: {}\n", message);
  return 1;
}

// Logging, data dir, database, migrations: what both commands need. Null on failure (printed).
std::unique_ptr<db::Database> OpenAndMigrate(const core::ServeConfig& config) {
  if (Status st = core::InitLogging(config.log_level); !st.ok()) {
    Fail(st.error().message);
    return nullptr;
  }
  if (Status st = core::PrepareDataDir(config.data_dir); !st.ok()) {
    Fail(st.error().message);
    return nullptr;
  }
  db::OpenOptions open_options;
  open_options.pool_size = config.handler_threads;
  auto db = db::Open(core::DatabaseUrl(config), open_options);
  if (!db.ok()) {
    Fail(db.error().message);
    return nullptr;
  }
  auto applied = db::Migrate(**db);
  if (!applied.ok()) {
    Fail("migrations failed: " + applied.error().message);
    return nullptr;
  }
  if (*applied > 0) spdlog::info("applied {} database migration(s)", *applied);
  return std::move(db).value();
}

}  // namespace

int RunMigrate(const core::ServeConfig& config) {
  auto db = OpenAndMigrate(config);
  if (!db) return 1;
  fmt::print("database is up to date ({} migrations known)\n", db::BuiltinMigrations().size());
  return 0;
}

// The App's options from the config: shared by `serve` and `worker`.
// "10.0.0.0/8, 192.0.2.7" -> CIDRs; an error names the bad entry and the setting.
Result<std::vector<sandbox::Cidr>> ParseCidrList(const std::string& list, std::string_view name) {
  std::vector<sandbox::Cidr> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = std::min(list.find(',', start), list.size());
    std::string item = list.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) {
      auto cidr = sandbox::ParseCidr(item);
      if (!cidr.ok()) {
        return MakeError(ErrorCode::kBadRequest, std::string(name) + ": " + cidr.error().message);
      }
      out.push_back(*cidr);
    }
    start = comma + 1;
  }
  return out;
}

// The operator's build network policy, checked before anything starts.
Result<sandbox::EgressPolicy> BuildNetworkPolicy(const core::ServeConfig& config) {
  sandbox::EgressPolicy policy;
  policy.mode =
      config.build_network == "none" ? sandbox::NetworkMode::kNone : sandbox::NetworkMode::kPublic;
  RD_TRY(policy.allowed, ParseCidrList(config.build_network_allow, "build-network-allow"));
  RD_TRY(policy.denied, ParseCidrList(config.build_network_deny, "build-network-deny"));
  if (Status valid = sandbox::ValidateEgressPolicy(policy); !valid.ok()) {
    return MakeError(ErrorCode::kBadRequest, "build-network-allow: " + valid.error().message);
  }
  return policy;
}

api::AppOptions AppOptionsFrom(const core::ServeConfig& config, const std::string& secret) {
  api::AppOptions app_options;
  app_options.base_domain = config.base_domain;
  app_options.admin_host = config.admin_host;
  // Keys are derived, so the same secret can key other uses without reuse.
  app_options.users.jwt_key = core::HmacSha256(secret, "replideploy jwt v1");
  app_options.env_key = core::HmacSha256(secret, "replideploy env v1");
  app_options.github_key = core::HmacSha256(secret, "replideploy github v1");
  app_options.users.jwt_ttl_seconds = static_cast<std::int64_t>(config.jwt_ttl_hours) * 3600;
  app_options.dashboard_dir = config.dashboard_dir;
  app_options.repos_dir = (std::filesystem::absolute(config.data_dir) / "repos").string();
  app_options.builds_dir = (std::filesystem::absolute(config.data_dir) / "builds").string();
  app_options.cache_dir = (std::filesystem::absolute(config.data_dir) / "cache").string();
  app_options.build_workers = config.build_workers;
  app_options.build_runner = config.build_runner;
  app_options.docker.image = config.docker_image;
  app_options.build_limits.wall_time = std::chrono::minutes(config.build_timeout_minutes);
  app_options.build_limits.memory_bytes = std::int64_t{config.build_memory_mb} << 20;
  app_options.build_limits.cpus = config.build_cpu_percent / 100.0;
  app_options.build_disk.bytes = std::int64_t{config.build_disk_mb} << 20;
  // One inode per 8 KiB, at most a million: a small quota still gets a usable file system.
  app_options.build_disk.inodes =
      std::clamp<std::int64_t>(app_options.build_disk.bytes / 8192, 16384, 1'000'000);
  app_options.volumes_dir = (std::filesystem::absolute(config.data_dir) / "volumes").string();
  app_options.bubblewrap.egress.mode =
      config.build_network == "none" ? sandbox::NetworkMode::kNone : sandbox::NetworkMode::kPublic;
  app_options.queue.lease_millis = std::int64_t{config.build_lease_seconds} * 1000;
  // Heartbeats well inside the lease, so one late beat does not lose it.
  app_options.heartbeat_every =
      std::chrono::milliseconds(std::max(500, config.build_lease_seconds * 1000 / 4));
  app_options.git_poll_interval = std::chrono::seconds(config.git_poll_seconds);
  app_options.allow_private_git = config.git_allow_private_urls != 0;
  app_options.public_url = config.public_url;
  app_options.github.client_id = config.github_client_id;
  app_options.github.client_secret = config.github_client_secret;
  app_options.github.web_url = config.github_web_url;
  app_options.github.api_url = config.github_api_url;
  return app_options;
}

int RunServe(const core::ServeConfig& config) {
  auto db = OpenAndMigrate(config);
  if (!db) return 1;
  auto secret = core::LoadOrCreateSecretKey(config);
  if (!secret.ok()) return Fail(secret.error().message);
  const core::ListenAddress listen = core::ParseListenAddress(config.listen).value();

  auto blobs = store::LocalBlobStore::Open(config.data_dir + "/store");
  if (!blobs.ok()) return Fail(blobs.error().message);

  core::SystemClock clock;
  api::AppOptions app_options = AppOptionsFrom(config, *secret);
  auto network_policy = BuildNetworkPolicy(config);
  if (!network_policy.ok()) return Fail(network_policy.error().message);
  app_options.bubblewrap.egress = *network_policy;
  if (app_options.dashboard_dir.empty()) {
    // Run from a checkout (build/<preset>/replideploy): the dashboard built next to it.
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    const auto guess = exe.parent_path().parent_path().parent_path() / "dashboard" / "out";
    if (!ec && std::filesystem::is_directory(guess, ec)) app_options.dashboard_dir = guess.string();
  }
  if (!app_options.dashboard_dir.empty())
    spdlog::info("dashboard from {}", app_options.dashboard_dir);
  api::App app(*db, **blobs, clock, app_options);

  http::ServerOptions server_options;
  server_options.host = listen.host;
  server_options.port = listen.port;
  server_options.io_threads = config.io_threads;
  server_options.handler_threads = config.handler_threads;
  server_options.shutdown_grace = std::chrono::seconds(config.shutdown_grace_seconds);
  http::Server server(server_options, app.Resolver());
  if (Status st = server.Listen(); !st.ok()) return Fail(st.error().message);
  app.SetPublicPort(server.port());

  const std::string host =
      listen.host.find(':') != std::string::npos ? "[" + listen.host + "]" : listen.host;
  spdlog::info("database {}", db->engine() == db::Engine::kSqlite ? "SQLite" : "PostgreSQL");
  fmt::print("RepliDeploy is running: dashboard and API at {}  (listening on {}:{})\n",
             app.PublicUrl("/"), host, server.port());
  std::fflush(stdout);
  server.Start();
  server.RunUntilSignal();
  // Live-log viewers hold sockets of the server's I/O context: let go of them before it goes.
  app.log_streams().Shutdown();
  spdlog::info("stopped");
  return 0;
}

int RunWorker(const core::ServeConfig& config) {
  auto db = OpenAndMigrate(config);
  if (!db) return 1;
  auto secret = core::LoadOrCreateSecretKey(config);
  if (!secret.ok()) return Fail(secret.error().message);
  auto blobs = store::LocalBlobStore::Open(config.data_dir + "/store");
  if (!blobs.ok()) return Fail(blobs.error().message);
  if (config.build_workers < 1) return Fail("a worker needs --build-workers of at least 1");
  // Block the signals before any thread starts, then wait for one here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  core::SystemClock clock;
  api::AppOptions app_options = AppOptionsFrom(config, *secret);
  auto network_policy = BuildNetworkPolicy(config);
  if (!network_policy.ok()) return Fail(network_policy.error().message);
  app_options.bubblewrap.egress = *network_policy;
  app_options.dashboard_dir.clear();
  app_options.git_poll_interval = std::chrono::milliseconds(0);  // `serve` polls
  {
    api::App app(*db, **blobs, clock, app_options);
    fmt::print("RepliDeploy worker is running: {} build(s) at once, database {}\n",
               config.build_workers, db->engine() == db::Engine::kSqlite ? "SQLite" : "PostgreSQL");
    std::fflush(stdout);
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info(
        "received signal {}, stopping the worker (the current build is given up and "
        "retried elsewhere)",
        received);
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace replideploy::cli

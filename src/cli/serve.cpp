#include "cli/serve.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "api/app.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "db/database.hpp"
#include "db/migrate.hpp"
#include "http/server.hpp"
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

int RunServe(const core::ServeConfig& config) {
  auto db = OpenAndMigrate(config);
  if (!db) return 1;
  auto secret = core::LoadOrCreateSecretKey(config);
  if (!secret.ok()) return Fail(secret.error().message);
  const core::ListenAddress listen = core::ParseListenAddress(config.listen).value();

  auto blobs = store::LocalBlobStore::Open(config.data_dir + "/store");
  if (!blobs.ok()) return Fail(blobs.error().message);

  core::SystemClock clock;
  api::AppOptions app_options;
  app_options.base_domain = config.base_domain;
  app_options.admin_host = config.admin_host;
  // The JWT key is derived, so the same secret can later key other uses without reuse.
  app_options.users.jwt_key = core::HmacSha256(*secret, "replideploy jwt v1");
  app_options.env_key = core::HmacSha256(*secret, "replideploy env v1");
  app_options.users.jwt_ttl_seconds = static_cast<std::int64_t>(config.jwt_ttl_hours) * 3600;
  app_options.dashboard_dir = config.dashboard_dir;
  app_options.repos_dir = (std::filesystem::absolute(config.data_dir) / "repos").string();
  app_options.builds_dir = (std::filesystem::absolute(config.data_dir) / "builds").string();
  app_options.cache_dir = (std::filesystem::absolute(config.data_dir) / "cache").string();
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
             app.ControlUrl("/"), host, server.port());
  std::fflush(stdout);
  server.Start();
  server.RunUntilSignal();
  spdlog::info("stopped");
  return 0;
}

}  // namespace replideploy::cli

#include "cli/commands.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/backup.hpp"
#include "cli/client_commands.hpp"
#include "cli/serve.hpp"
#include "core/config.hpp"
#include "core/crypto.hpp"
#include "core/memory.hpp"

namespace replideploy::cli {

namespace {

constexpr int kMallocArenas = 2;

// Registers the settings table on `command`: each as a flag and an environment variable.
void AddConfigOptions(CLI::App& command, core::ServeConfig& config, std::string& config_file) {
  for (const core::ConfigOption& option : core::ConfigOptions(config)) {
    CLI::Option* flag = std::visit(
        [&](auto* target) { return command.add_option("--" + option.name, *target, option.help); },
        option.target);
    flag->envname(core::EnvName(option.name));
    flag->capture_default_str();
  }
  command.add_option("--config", config_file, "TOML file with any of the settings above")
      ->envname("REPLIDEPLOY_CONFIG")
      ->check(CLI::ExistingFile);
}

// Fills in the settings no flag or variable gave from the config file, then validates.
bool FinishConfig(const CLI::App& command, core::ServeConfig& config,
                  const std::string& config_file) {
  if (!config_file.empty()) {
    auto given = [&](std::string_view name) {
      return command.get_option("--" + std::string(name))->count() > 0;
    };
    Status st = core::ApplyConfigFile(config_file, config, given);
    if (!st.ok()) {
      fmt::print(stderr, "replideploy: {}\n", st.error().message);
      return false;
    }
  }
  Status valid = core::ValidateConfig(config);
  if (!valid.ok()) {
    fmt::print(stderr, "replideploy: {}\n", valid.error().message);
    return false;
  }
  return true;
}

}  // namespace

int Main(int argc, char** argv) {
  // glibc's default is 8 arenas per core, each keeping what its threads freed: with a pool of
  // threads each holding a few MB, that was a third of the edge's RSS (bench/README.md,
  // "Memory with 1000 sites"). Before any thread starts.
  core::LimitMallocArenas(kMallocArenas);
  try {
    core::InitCrypto();
  } catch (const std::exception& e) {
    fmt::print(stderr, "replideploy: {}\n", e.what());
    return 1;
  }
  CLI::App app{"RepliDeploy: a self-hostable Netlify", "replideploy"};
  app.require_subcommand(1);
  app.set_version_flag("--version", REPLIDEPLOY_VERSION);

  core::ServeConfig serve_config;
  std::string serve_config_file;
  CLI::App* serve =
      app.add_subcommand("serve", "run the platform (API, dashboard, edge) in one process");
  AddConfigOptions(*serve, serve_config, serve_config_file);

  core::ServeConfig api_config;
  std::string api_config_file;
  CLI::App* api = app.add_subcommand(
      "api", "run the API, dashboard, webhooks and git remote only (no edge, no builds)");
  AddConfigOptions(*api, api_config, api_config_file);

  core::ServeConfig edge_config;
  std::string edge_config_file;
  CLI::App* edge = app.add_subcommand(
      "edge", "serve published sites only, from the shared database and data dir");
  AddConfigOptions(*edge, edge_config, edge_config_file);

  core::ServeConfig worker_config;
  std::string worker_config_file;
  CLI::App* worker = app.add_subcommand(
      "worker", "run builds only, sharing serve's database and data dir (more build capacity)");
  AddConfigOptions(*worker, worker_config, worker_config_file);

  core::ServeConfig migrate_config;
  std::string migrate_config_file;
  CLI::App* migrate = app.add_subcommand("migrate", "apply database migrations and exit");
  AddConfigOptions(*migrate, migrate_config, migrate_config_file);

  core::ServeConfig backup_config;
  std::string backup_config_file;
  std::string backup_to;
  CLI::App* backup = app.add_subcommand(
      "backup",
      "copy the database (SQLite online backup), key, blobs and git repositories to a folder");
  backup->add_option("--to", backup_to, "the backup folder (an earlier backup there is updated)")
      ->required();
  AddConfigOptions(*backup, backup_config, backup_config_file);

  core::ServeConfig restore_config;
  std::string restore_config_file;
  std::string restore_from;
  bool restore_force = false;
  CLI::App* restore =
      app.add_subcommand("restore", "put a backup folder's contents into the data dir");
  restore->add_option("--from", restore_from, "the backup folder")->required();
  restore->add_flag("--force", restore_force, "replace what a data dir that is not empty holds");
  AddConfigOptions(*restore, restore_config, restore_config_file);

  CLI::App* version = app.add_subcommand("version", "print the version");

  int client_exit = -1;
  AddClientCommands(app, client_exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (client_exit >= 0) return client_exit;
  if (version->parsed()) {
    fmt::print("replideploy {}\n", REPLIDEPLOY_VERSION);
    return 0;
  }
  if (serve->parsed()) {
    if (!FinishConfig(*serve, serve_config, serve_config_file)) return 2;
    return RunServe(serve_config);
  }
  if (api->parsed()) {
    if (!FinishConfig(*api, api_config, api_config_file)) return 2;
    return RunApi(api_config);
  }
  if (edge->parsed()) {
    if (!FinishConfig(*edge, edge_config, edge_config_file)) return 2;
    return RunEdge(edge_config);
  }
  if (worker->parsed()) {
    if (!FinishConfig(*worker, worker_config, worker_config_file)) return 2;
    return RunWorker(worker_config);
  }
  if (backup->parsed()) {
    if (!FinishConfig(*backup, backup_config, backup_config_file)) return 2;
    return RunBackup(backup_config, backup_to);
  }
  if (restore->parsed()) {
    if (!FinishConfig(*restore, restore_config, restore_config_file)) return 2;
    return RunRestore(restore_config, restore_from, restore_force);
  }
  if (migrate->parsed()) {
    if (!FinishConfig(*migrate, migrate_config, migrate_config_file)) return 2;
    return RunMigrate(migrate_config);
  }
  return 2;
}

}  // namespace replideploy::cli

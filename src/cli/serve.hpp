// The long-running commands. Each prints one clear line and returns non-zero on a start-up
// error (bad config, unwritable data dir, unreachable database, port taken).
#pragma once

#include "core/config.hpp"

namespace replideploy::cli {

// All roles in one process until SIGINT/SIGTERM; then drains and returns 0.
int RunServe(const core::ServeConfig& config);
// Only the API (REST, WebSocket logs, dashboard, webhooks, git remote) and the git poller.
int RunApi(const core::ServeConfig& config);
// Only the edge: serves published sites by Host from the shared database and blob store.
int RunEdge(const core::ServeConfig& config);
// Only builds: claims jobs from the shared database until SIGINT/SIGTERM (the build running
// then goes back to the queue). Shares the data dir's blob store with `serve`.
int RunWorker(const core::ServeConfig& config);
// Applies pending migrations and exits.
int RunMigrate(const core::ServeConfig& config);

}  // namespace replideploy::cli

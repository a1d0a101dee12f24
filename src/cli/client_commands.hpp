// The client commands of the binary: login, sites, deploy, deploys, rollback, rules test. They talk
// to the API over HTTP (cli/api_client.hpp) like any other client.
#pragma once

#include <CLI/App.hpp>

namespace replideploy::cli {

// Registers the commands on `app`; the one that runs stores its exit code in `exit_code`.
void AddClientCommands(CLI::App& app, int& exit_code);

}  // namespace replideploy::cli

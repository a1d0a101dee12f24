// Builds in a Docker container (`--build-runner docker`), for hosts with a Docker engine: the
// same contract as the bubblewrap runner (the workspace at /workspace, the limits, output line
// by line), enforced by Docker: a non-root user, --memory/--pids-limit, no capabilities, no new
// privileges, a read-only root with a private /tmp, and the container removed afterwards (after
// `docker inspect` said whether the OOM killer ended it). The wall-time limit and cancellation
// kill the container (`docker kill`).
#pragma once

#include <string>
#include <vector>

#include "core/clock.hpp"
#include "sandbox/runner.hpp"

namespace replideploy::sandbox {

struct DockerOptions {
  std::string docker_path = "docker";
  std::string image = "node:18-bullseye";
  std::string user = "1000:1000";  // the image's "node" user
  std::string network = "bridge";  // builds download dependencies
};

// The `docker run` argv for `spec` in a container named `name`. kBadRequest for a spec the
// runner cannot express (relative workspace, env names with '='). The build's variables appear
// by name only (`--env NAME`): docker takes each value from its own environment, which
// DockerRunEnv gives it, so no value (a secret) is ever on a command line or in `ps`.
Result<std::vector<std::string>> DockerRunArgv(const SandboxSpec& spec,
                                               const DockerOptions& options,
                                               const std::string& name);

// "NAME=value" for every variable of `spec`: the docker client's extra environment.
std::vector<std::string> DockerRunEnv(const SandboxSpec& spec);

class DockerRunner final : public SandboxRunner {
 public:
  explicit DockerRunner(DockerOptions options, const core::Clock& clock);
  Result<SandboxResult> Run(const SandboxSpec& spec, const OutputCallback& on_line) override;

 private:
  DockerOptions options_;
  const core::Clock& clock_;
};

}  // namespace replideploy::sandbox

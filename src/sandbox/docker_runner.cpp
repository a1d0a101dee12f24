#include "sandbox/docker_runner.hpp"

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <stop_token>

#include "core/ids.hpp"
#include "core/subprocess.hpp"
#include "sandbox/output_lines.hpp"

namespace replideploy::sandbox {

namespace {

bool IsEnvName(const std::string& name) {
  return !name.empty() && name.find('=') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

Result<std::vector<std::string>> DockerRunArgv(const SandboxSpec& spec,
                                               const DockerOptions& options,
                                               const std::string& name) {
  if (spec.argv.empty()) return MakeError(ErrorCode::kBadRequest, "the build command is empty");
  if (!std::filesystem::path(spec.workspace).is_absolute()) {
    return MakeError(ErrorCode::kBadRequest, "the workspace must be an absolute path");
  }
  const std::filesystem::path workdir =
      (std::filesystem::path("/workspace") / spec.working_subdir).lexically_normal();
  if (!workdir.string().starts_with("/workspace")) {
    return MakeError(ErrorCode::kBadRequest, "the working folder must be inside the workspace");
  }
  std::vector<std::string> argv = {
      options.docker_path,
      "run",
      "--name",
      name,
      "--user",
      options.user,
      "--network",
      options.network,
      "--memory",
      std::to_string(spec.limits.memory_bytes),
      "--memory-swap",
      std::to_string(spec.limits.memory_bytes),
      "--pids-limit",
      std::to_string(spec.limits.max_processes),
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--read-only",
      "--tmpfs",
      "/tmp:rw,exec,nosuid,size=1g",
      "--volume",
      spec.workspace + ":/workspace:rw",
      "--workdir",
      workdir.string(),
      "--env",
      "HOME=/workspace",
  };
  for (const auto& bind : spec.extra_binds) {
    argv.push_back("--volume");
    argv.push_back(bind.host_path + ":" + bind.sandbox_path + (bind.writable ? ":rw" : ":ro"));
  }
  for (const auto& [key, value] : spec.env) {
    if (!IsEnvName(key)) {
      return MakeError(ErrorCode::kBadRequest, "invalid environment variable name '" + key + "'");
    }
    argv.push_back("--env");
    argv.push_back(key);
  }
  argv.push_back(options.image);
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  return argv;
}

std::vector<std::string> DockerRunEnv(const SandboxSpec& spec) {
  std::vector<std::string> env;
  env.reserve(spec.env.size());
  for (const auto& [key, value] : spec.env) env.push_back(key + "=" + value);
  return env;
}

DockerRunner::DockerRunner(DockerOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<SandboxResult> DockerRunner::Run(const SandboxSpec& spec, const OutputCallback& on_line) {
  const std::string name = "replideploy-build-" + core::NewHexId().substr(0, 12);
  RD_TRY(std::vector<std::string> argv, DockerRunArgv(spec, options_, name));
  LineSplitter out_lines(kMaxLineBytes), err_lines(kMaxLineBytes);
  SandboxResult result;
  bool over_output = false;
  std::stop_source kill_container;
  std::stop_callback on_cancel(spec.stop, [&] { kill_container.request_stop(); });
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> lines;
  auto process =
      core::RunProcess({.argv = argv,
                        .extra_env = DockerRunEnv(spec),
                        .timeout = spec.limits.wall_time,
                        .on_output =
                            [&](bool is_stderr, std::string_view chunk) {
                              result.output_bytes += static_cast<std::int64_t>(chunk.size());
                              if (result.output_bytes > spec.limits.max_output_bytes) {
                                over_output = true;
                                kill_container.request_stop();
                                return;
                              }
                              lines.clear();
                              (is_stderr ? err_lines : out_lines).Feed(chunk, lines);
                              for (const auto& line : lines) {
                                on_line(is_stderr ? OutputStream::kStderr : OutputStream::kStdout,
                                        clock_.NowMillis(), line);
                              }
                            },
                        .stop = kill_container.get_token()});
  // The docker client dying does not stop the container: kill it by name. Then ask whether
  // the kernel's OOM killer ended it (an exit status of 137 alone could be any SIGKILL), and
  // remove it (it runs without --rm so that it can still be inspected).
  (void)core::RunProcess(
      {.argv = {options_.docker_path, "kill", name}, .timeout = std::chrono::seconds(30)});
  auto inspected = core::RunProcess(
      {.argv = {options_.docker_path, "inspect", "--format", "{{.State.OOMKilled}}", name},
       .timeout = std::chrono::seconds(30)});
  const bool oom_killed =
      inspected.ok() && inspected->Succeeded() && inspected->out.starts_with("true");
  (void)core::RunProcess(
      {.argv = {options_.docker_path, "rm", "-f", name}, .timeout = std::chrono::seconds(30)});
  if (!process.ok()) return std::move(process).error();
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  result.exit_code = process->exit_code;
  result.limits_enforced_by = "docker";
  if (over_output) {
    result.limit = LimitHit::kOutput;
  } else if (spec.stop.stop_requested()) {
    result.limit = LimitHit::kCancelled;
  } else if (process->timed_out) {
    result.limit = LimitHit::kWallTime;
  } else if (oom_killed) {
    result.limit = LimitHit::kMemory;
  } else if (process->exit_code == 125 || process->exit_code == 127) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("docker could not start the build container (exit {})", process->exit_code));
  }
  if (result.limit != LimitHit::kNone)
    result.limit_message = LimitMessage(result.limit, spec.limits);
  return result;
}

}  // namespace replideploy::sandbox

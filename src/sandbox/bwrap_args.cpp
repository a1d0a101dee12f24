#include "sandbox/bwrap_args.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace replideploy::sandbox {

namespace {

namespace fs = std::filesystem;

bool HasDotDot(const fs::path& path) {
  for (const auto& part : path) {
    if (part == "..") return true;
  }
  return false;
}

Error BadSpec(const std::string& message) { return MakeError(ErrorCode::kUnprocessable, message); }

}  // namespace

std::vector<std::pair<std::string, std::string>> SandboxEnvironment(const SandboxSpec& spec) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", std::string(kSandboxPath)},
      {"HOME", std::string(kSandboxHome)},
      {"CI", "true"},
      {"NETLIFY", "true"},
  };
  for (const auto& [name, value] : spec.env) {
    bool replaced = false;
    for (auto& entry : env) {
      if (entry.first == name) {
        entry.second = value;
        replaced = true;
      }
    }
    if (!replaced) env.emplace_back(name, value);
  }
  return env;
}

BwrapCommandLine MoveOptionsToArgsFd(const std::vector<std::string>& bwrap_argv, int args_fd) {
  BwrapCommandLine line;
  if (bwrap_argv.empty()) return line;
  const auto separator = std::find(bwrap_argv.begin(), bwrap_argv.end(), std::string("--"));
  for (auto it = bwrap_argv.begin() + 1; it != separator; ++it) {
    line.options.append(*it).push_back('\0');
  }
  line.argv = {bwrap_argv.front(), "--args", std::to_string(args_fd)};
  line.argv.insert(line.argv.end(), separator, bwrap_argv.end());
  return line;
}

pid_t ChildPidFromStatus(std::string_view status) {
  const std::size_t key = status.find("\"child-pid\":");
  if (key == std::string_view::npos) return -1;
  std::size_t at = key + 12;
  while (at < status.size() && status[at] == ' ') ++at;
  std::size_t end = at;
  while (end < status.size() && std::isdigit(static_cast<unsigned char>(status[end]))) ++end;
  // Digits at the very end may be cut short by the read: wait for what follows them.
  if (end == at || end >= status.size()) return -1;
  return static_cast<pid_t>(std::atol(std::string(status.substr(at, end - at)).c_str()));
}

Result<std::vector<std::string>> BubblewrapArgv(const SandboxSpec& spec,
                                                const BubblewrapOptions& options, int status_fd,
                                                int resolv_fd) {
  if (spec.argv.empty() || spec.argv[0].empty()) return BadSpec("build command is empty");
  std::error_code ec;
  const fs::path workspace = fs::canonical(spec.workspace, ec);
  if (ec || !fs::is_directory(workspace, ec)) {
    return BadSpec("build workspace " + spec.workspace + " is not a directory");
  }
  const fs::path subdir(spec.working_subdir);
  if (subdir.is_absolute() || HasDotDot(subdir)) {
    return BadSpec("build directory must be relative to the workspace without \"..\"");
  }
  std::vector<std::string> argv = {options.bwrap_path,  "--unshare-user",
                                   "--unshare-pid",     "--unshare-ipc",
                                   "--unshare-uts",     "--unshare-cgroup-try",
                                   "--die-with-parent", "--new-session",
                                   "--hostname",        "build"};
  // Always a network namespace of its own: with `resolv_fd`, the SandboxNetwork that the runner
  // puts bwrap in before it starts (the public internet); else bwrap's own (only loopback).
  if (resolv_fd < 0) argv.push_back("--unshare-net");
  auto add = [&](std::initializer_list<std::string> items) {
    argv.insert(argv.end(), items.begin(), items.end());
  };
  add({"--ro-bind", "/usr", "/usr"});
  // Debian's merged /usr: these are symlinks into /usr; older layouts have real directories.
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    const fs::file_status st = fs::symlink_status(top, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_symlink(st)) {
      const fs::path target = fs::read_symlink(top, ec);
      if (!ec) add({"--symlink", target.string(), top});
    } else if (fs::is_directory(st)) {
      add({"--ro-bind", top, top});
    }
  }
  add({"--ro-bind", "/etc", "/etc"});
  // The host's resolver is usually a private or loopback address the sandbox cannot reach.
  if (resolv_fd >= 0) add({"--ro-bind-data", std::to_string(resolv_fd), "/etc/resolv.conf"});
  for (const std::string& masked : options.masked_paths) {
    const fs::file_status st = fs::symlink_status(masked, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_directory(st)) {
      add({"--tmpfs", masked});
    } else {
      add({"--ro-bind", "/dev/null", masked});
    }
  }
  const std::string tmp_size = std::to_string(spec.limits.tmp_bytes);
  add({"--proc", "/proc", "--dev", "/dev", "--size", tmp_size, "--tmpfs", "/tmp", "--size",
       tmp_size, "--tmpfs", std::string(kSandboxHome)});
  add({"--bind", workspace.string(), std::string(kWorkspaceMount)});
  for (const SandboxBind& bind : spec.extra_binds) {
    if (!fs::path(bind.host_path).is_absolute() || !fs::path(bind.sandbox_path).is_absolute() ||
        HasDotDot(bind.sandbox_path) || !fs::exists(bind.host_path, ec)) {
      return BadSpec("bad sandbox bind " + bind.host_path + " -> " + bind.sandbox_path);
    }
    add({bind.writable ? "--bind" : "--ro-bind", bind.host_path, bind.sandbox_path});
  }
  add({"--remount-ro", "/"});
  std::string chdir(kWorkspaceMount);
  if (!spec.working_subdir.empty()) chdir += "/" + subdir.lexically_normal().string();
  add({"--chdir", chdir, "--clearenv"});
  for (const auto& [name, value] : SandboxEnvironment(spec)) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return BadSpec("bad environment variable name \"" + name + "\"");
    }
    add({"--setenv", name, value});
  }
  if (status_fd >= 0) add({"--json-status-fd", std::to_string(status_fd)});
  argv.push_back("--");
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  return argv;
}

}  // namespace replideploy::sandbox

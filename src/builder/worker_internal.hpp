// Private to src/builder/: what worker.cpp (a build from its job to its output) and
// worker_functions.cpp (the build's functions: bundled, packaged, stored) share.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "builder/build_config.hpp"
#include "builder/detect.hpp"
#include "builder/worker.hpp"
#include "core/result.hpp"
#include "sandbox/runner.hpp"
#include "sandbox/volume.hpp"

namespace replideploy::builder {

// `relative` (a setting naming a folder inside the checkout) normalized, or an error naming
// `what` when it is absolute or leaves the checkout.
Result<std::string> RelativeInside(const std::string& relative, std::string_view what);

// The non-empty parts joined with '/'.
std::string Join(std::initializer_list<std::string_view> parts);

// The build's workspace: a folder of its own (on a loop volume when one can be made, its size
// the disk quota), given to the build user. Taking it down removes everything: the volume's
// destructor, else the folder's contents.
struct BuildWorker::Workspace {
  std::filesystem::path path;
  std::unique_ptr<sandbox::WorkspaceVolume> volume;
  std::optional<sandbox::BuildUser> user;
  std::filesystem::path tmp() const { return path / ".tmp"; }
  std::filesystem::path home() const { return path / ".home"; }

  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    if (volume || path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// What netlify.toml, the site's settings and detection say the build is.
struct BuildWorker::Plan {
  deploys::BuildSettings settings;
  std::string context;
  BuildConfig config;
  ProjectFiles project;
  std::string base_dir;  // inside the checkout; "" for its root
  std::string command;   // "" for none
  std::string publish_setting;
  std::string publish_dir;  // inside base_dir
  std::string config_toml;  // the netlify.toml the build uses (root, else base dir); "" for none
};

}  // namespace replideploy::builder

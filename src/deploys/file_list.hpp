// A deploy's file list as a client sends it (netlify-cli's digest deploy: {"path": "sha1"} and
// {"function name": "sha256"}), checked and normalised before anything is stored. Pure: no
// database, no clock; DeployService::SetFiles stores what this returns.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "core/result.hpp"

namespace replideploy::deploys {

struct FileListLimits {
  std::size_t max_files = 100'000;  // files and functions together
  std::size_t max_path_bytes = 1024;
};

struct CheckedFileList {
  std::map<std::string, std::string> files;      // "/a/b.html" (NormalizeDeployPath) -> sha1
  std::map<std::string, std::string> functions;  // name -> sha256
};

// kUnprocessable (with a detail code: too_many_files, invalid_path, invalid_digest,
// invalid_function) for more entries than the limit, a path that is too long, could leave the
// deploy root or names the same file as another one after normalising, a digest that is not
// lowercase hex of the right length (SHA-1 for files, SHA-256 for functions), or a function
// name outside [A-Za-z0-9._-]{1,128} ("." and ".." too).
Result<CheckedFileList> CheckFileList(const std::map<std::string, std::string>& files,
                                      const std::map<std::string, std::string>& functions,
                                      const FileListLimits& limits);

}  // namespace replideploy::deploys

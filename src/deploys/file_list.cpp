#include "deploys/file_list.hpp"

#include <algorithm>
#include <string_view>

#include "core/text.hpp"
#include "deploys/deploys.hpp"

namespace replideploy::deploys {

namespace {

bool IsFunctionName(std::string_view s) {
  return !s.empty() && s.size() <= 128 &&
         std::all_of(s.begin(), s.end(),
                     [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                     }) &&
         s != "." && s != "..";
}

}  // namespace

Result<CheckedFileList> CheckFileList(const std::map<std::string, std::string>& files,
                                      const std::map<std::string, std::string>& functions,
                                      const FileListLimits& limits) {
  if (files.size() + functions.size() > limits.max_files) {
    return Unprocessable("too_many_files",
                         "a deploy holds at most " + std::to_string(limits.max_files) + " files");
  }
  CheckedFileList manifest;
  for (const auto& [raw_path, sha1] : files) {
    if (raw_path.size() > limits.max_path_bytes) {
      return Unprocessable("invalid_path", "file path longer than " +
                                               std::to_string(limits.max_path_bytes) + " bytes");
    }
    RD_TRY(std::string path, NormalizeDeployPath(raw_path));
    if (sha1.size() != 40 || !core::IsLowerHex(sha1)) {
      return Unprocessable("invalid_digest", "files['" + raw_path.substr(0, 200) +
                                                 "'] must be a SHA-1 in lowercase hex");
    }
    if (!manifest.files.emplace(path, sha1).second) {
      return Unprocessable("invalid_path", "file path '" + path + "' is listed twice");
    }
  }
  for (const auto& [name, sha256] : functions) {
    if (!IsFunctionName(name)) {
      return Unprocessable("invalid_function",
                           "function name '" + name.substr(0, 200) + "' is invalid");
    }
    if (sha256.size() != 64 || !core::IsLowerHex(sha256)) {
      return Unprocessable("invalid_digest",
                           "functions['" + name + "'] must be a SHA-256 in lowercase hex");
    }
    manifest.functions.emplace(name, sha256);
  }
  return manifest;
}

}  // namespace replideploy::deploys

// The file list of `replideploy deploy`: the folder's files with their SHA-1s (read only when
// the cache cannot vouch for them), sent whole (Netlify's PUT /api/v1/deploys/{id}) or as the
// changes since the deploy last made from the folder (PUT /api/v1/deploys/{id}/file_changes).
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "cli/api_client.hpp"
#include "cli/deploy_cache.hpp"
#include "cli/deploy_upload.hpp"
#include "core/result.hpp"

namespace replideploy::cli {

struct ScannedFolder {
  std::vector<LocalFile> files;
  std::size_t hashed = 0;  // files read and hashed (the others came from the cache)
  // Folders left out because they cannot be opened (no permission), as paths on disk: the
  // deploy goes on without them, with a warning.
  std::vector<std::string> unreadable_folders;
};

// The files under `dir` to deploy (not node_modules, __MACOSX or dot files other than
// .well-known), hashed on every core unless `cache` holds a digest for the same path, size,
// mtime and inode. `cache.digests` becomes this scan's (files modified within kRacyWindowNs of
// the scan are left out). kBadRequest when `dir` is not a readable folder or a file cannot be
// read.
Result<ScannedFolder> ScanDirectory(const std::string& dir, DeployCache& cache);

// Sends the file list of `files` plus `functions` (the PUT body's "functions" and
// "functions_config" fields) for deploy `deploy_id`: as changes to `base` when it is not null
// (and the changes are fewer than the whole list), else, or when the server refuses that (a
// 4xx: an older server, or a base deploy that is gone or unusable), whole. Returns the deploy
// as the server answers; `relative` says which way went.
Result<boost::json::value> SendFileList(const ApiClient& client, const std::string& site_path,
                                        const std::string& deploy_id,
                                        const std::vector<LocalFile>& files, const BaseDeploy* base,
                                        const boost::json::object& functions, bool& relative);

}  // namespace replideploy::cli

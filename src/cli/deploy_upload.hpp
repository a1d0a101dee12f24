// The upload phase of `replideploy deploy`: the files the server asked for, small ones many to
// a request (POST /api/v1/deploys/{id}/files, deploys/file_batch.hpp), larger ones one per
// request (Netlify's PUT /api/v1/deploys/{id}/files/{path}), several requests in flight over
// kept-alive connections, progress on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/api_client.hpp"

namespace replideploy::cli {

struct LocalFile {
  std::string path;  // deploy path, "/a/b.html"
  std::string disk_path;
  std::string sha1;
  std::uint64_t size = 0;
};

// "1.5 MB".
std::string HumanBytes(double bytes);

// Uploads `files` to the deploy. Returns "" once every one is stored, else the first failure
// ("/a/b.html: message"); the remaining uploads stop. A server without the batched upload
// (404 for it) gets the batch's files one by one. Thread-safe calls of `client` only.
std::string UploadDeployFiles(const ApiClient& client, const std::string& deploy_id,
                              const std::vector<const LocalFile*>& files);

}  // namespace replideploy::cli

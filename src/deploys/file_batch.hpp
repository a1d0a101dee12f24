// Many small files of a deploy in one request body: the framing of our own CLI's batched upload
// (POST /api/v1/deploys/{id}/files, docs/api.md). Netlify's one-file PUT stays for netlify-cli;
// a batch saves the per-request work (HTTP, authentication, the deploy lookup, one database
// transaction) that dominates the upload of a small file.
//
// A body is a sequence of records, each: the file's path, "\n", its size in decimal bytes, "\n",
// then exactly that many bytes. Paths hold no control characters (NormalizeDeployPath refuses
// them), so "\n" cannot occur in one. Pure: no I/O; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::deploys {

// Files per batch, at most.
inline constexpr std::size_t kMaxBatchFiles = 1000;

struct BatchFile {
  std::string_view path;   // as sent; normalised by DeployService::UploadFiles
  std::string_view bytes;  // the content
};

// The records of `body`, viewing into it (the caller keeps `body` alive). kBadRequest
// (detail malformed_batch) for an empty body, a record without its two header lines, a size
// that is not decimal or runs past the end of the body, an empty or over-long (1024 bytes) path;
// kPayloadTooLarge (too_many_files) for more than kMaxBatchFiles records.
Result<std::vector<BatchFile>> ParseFileBatch(std::string_view body);

// Appends one record to `body` (the CLI's side).
void AppendToFileBatch(std::string& body, std::string_view path, std::string_view bytes);

}  // namespace replideploy::deploys

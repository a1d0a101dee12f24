#include "store/spooled_writer.hpp"

#include <unistd.h>

namespace replideploy::store {

void TempFile::Discard() {
  fd.Reset();
  if (!path.empty()) ::unlink(path.c_str());
  path.clear();
}

void TempFile::Installed() {
  fd.Reset();
  path.clear();
}

Error FinishedWriter() { return MakeError(ErrorCode::kInternal, "blob writer already finished"); }

Status SpooledWriter::Write(std::string_view chunk) {
  if (finished_) return FinishedWriter();
  Status written = WriteAll(temp_.fd.Get(), chunk, temp_.path);
  if (!written.ok()) {
    finished_ = true;
    temp_.Discard();
    return written;
  }
  digester_.Update(chunk);
  bytes_written_ += chunk.size();
  return {};
}

Result<BlobInfo> SpooledWriter::Commit(std::string_view expected_sha256) {
  if (finished_) return FinishedWriter();
  finished_ = true;
  Result<BlobInfo> committed = [&]() -> Result<BlobInfo> {
    if (!expected_sha256.empty()) RD_TRY_STATUS(ValidateSha256(expected_sha256));
    RD_TRY(BlobInfo info, digester_.Finish());
    if (!expected_sha256.empty() && info.sha256 != expected_sha256) {
      return MakeError(ErrorCode::kUnprocessable, "content does not match its digest");
    }
    return Store(info);
  }();
  // Every early return above leaves nothing behind.
  temp_.Discard();
  return committed;
}

}  // namespace replideploy::store

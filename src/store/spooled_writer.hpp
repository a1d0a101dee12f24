// Internal to store/: the part of a blob writer every backend shares. Chunks go to a temporary
// file while they are hashed; Commit checks the digest and hands the file to the backend.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "store/blob_store.hpp"
#include "store/posix_file.hpp"

namespace replideploy::store {

// A temporary file that is unlinked on destruction unless it was handed on (Installed).
struct TempFile {
  UniqueFd fd;
  std::string path;

  TempFile() = default;
  TempFile(UniqueFd file, std::string file_path)
      : fd(std::move(file)), path(std::move(file_path)) {}
  TempFile(TempFile&& other) noexcept
      : fd(std::move(other.fd)), path(std::exchange(other.path, std::string())) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() { Discard(); }

  void Discard();
  // The file was renamed away or handed to a cache: nothing to unlink any more.
  void Installed();
};

Error FinishedWriter();

// A BlobWriter spooling to `temp`. Commit validates `expected_sha256`, checks the content
// against it and calls Store; whatever happens, the writer is finished afterwards and the
// temporary file is gone unless Store installed it.
class SpooledWriter : public BlobWriter {
 public:
  Status Write(std::string_view chunk) final;
  Result<BlobInfo> Commit(std::string_view expected_sha256) final;
  std::uint64_t BytesWritten() const final { return bytes_written_; }

 protected:
  explicit SpooledWriter(TempFile temp) : temp_(std::move(temp)) {}
  // Stores the spooled content, whose digest and size are `info`.
  virtual Result<BlobInfo> Store(const BlobInfo& info) = 0;
  TempFile& temp() { return temp_; }

 private:
  TempFile temp_;
  BlobDigester digester_;
  std::uint64_t bytes_written_ = 0;
  bool finished_ = false;
};

}  // namespace replideploy::store

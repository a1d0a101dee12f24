// S3BlobStore: blobs in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, s3rver), with
// the local layout under a key prefix:
//   <prefix>blobs/ab/cd/<sha256>[.br|.gz]
// Errors as in blob_store.hpp; the object store being unreachable or failing after the
// client's retries (s3_client.hpp) is kUnavailable.
//
// Writes are spooled to a local temporary file while they are hashed, then uploaded on
// Commit: one PUT up to `multipart_threshold`, a multipart upload of `part_size` parts above
// it (aborted on failure). Content already stored is claimed instead of uploaded again.
//
// Claims and garbage collection: S3 has no "touch", so Touch (and a Commit of stored content)
// copies the object onto itself with a replaced metadata directive, which gives it a new
// LastModified; List and DeleteIfOlderThan read LastModified as the mtime (whole seconds).
// DeleteIfOlderThan checks (HEAD) and then deletes: atomic against claims in this process
// (per-digest lock), but another process's claim can land between the two requests. The GC
// grace period (gc.hpp) is the guard there: a deploy claims blobs just before it relies on
// them, so only a claim that starts after the sweep's HEAD and finishes before its DELETE is
// lost, and that deploy's next upload check (Has) sees the blob gone and asks for it again.
//
// Local cache: LocalPath downloads a missing blob into the bounded disk cache
// (blob_disk_cache.hpp) and returns its path there, so the edge's sendfile path works; Read
// and Size answer from the cache when the blob is there. A miss blocks the calling thread for
// the download (the edge calls LocalPath only from its blocking pool).
//
// Thread-safe; several processes may share a bucket (see above for what then holds).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "store/blob_disk_cache.hpp"
#include "store/blob_store.hpp"
#include "store/s3_client.hpp"

namespace replideploy::store {

struct S3BlobStoreOptions {
  S3ClientOptions client;
  std::string prefix;  // "" or "sites/" (a trailing '/' is added when missing)
  std::uint64_t multipart_threshold = std::uint64_t{16} << 20;
  // S3 wants parts of at least 5 MiB (all but the last).
  std::uint64_t part_size = std::uint64_t{16} << 20;
  // Local directory for spooled uploads and the blob cache.
  std::string cache_dir;
  std::uint64_t cache_bytes = std::uint64_t{1} << 30;
};

// "s3://bucket/some/prefix" -> {"bucket", "some/prefix/"}. kBadRequest when not an s3:// URL
// with a bucket.
Result<std::pair<std::string, std::string>> ParseS3Url(std::string_view url);

class S3BlobStore final : public BlobStore {
 public:
  // Opens the cache directory and checks the bucket answers (a ListObjectsV2 of one key):
  // kUnavailable when it cannot be reached, kForbidden when the credentials are refused,
  // kNotFound when the bucket does not exist.
  static Result<std::unique_ptr<S3BlobStore>> Open(S3BlobStoreOptions options);

  Result<std::unique_ptr<BlobWriter>> NewWriter() override;
  Result<bool> Has(std::string_view sha256, Variant variant) override;
  Result<bool> Touch(std::string_view sha256) override;
  // Up to kConcurrentClaims claims in flight at once.
  Result<std::vector<bool>> TouchMany(const std::vector<std::string>& digests) override;
  static constexpr std::size_t kConcurrentClaims = 16;
  Result<std::string> Read(std::string_view sha256, Variant variant) override;
  Result<std::uint64_t> Size(std::string_view sha256, Variant variant) override;
  std::optional<std::string> LocalPath(std::string_view sha256, Variant variant) override;
  Status PutVariant(std::string_view sha256, Variant variant, std::string_view data) override;
  Status Delete(std::string_view sha256) override;
  Result<bool> DeleteIfOlderThan(std::string_view sha256,
                                 std::chrono::system_clock::time_point cutoff) override;
  Result<std::vector<StoredBlob>> List() override;

  // The object key of a blob or variant.
  std::string KeyFor(std::string_view sha256, Variant variant) const;
  BlobDiskCache& cache() { return *cache_; }  // NOLINT
  S3Client& client() { return client_; }      // NOLINT

 private:
  class Writer;
  friend class Writer;

  explicit S3BlobStore(S3BlobStoreOptions options, std::unique_ptr<BlobDiskCache> cache);

  std::mutex& LockFor(std::string_view sha256);
  // HEAD: the response (200 or 404) or an error for anything else.
  Result<S3Response> Head(const std::string& key);
  // Uploads `length` bytes of `fd` as `key`, multipart above the threshold.
  Status Upload(const std::string& key, int fd, std::uint64_t length, const std::string& sha256);
  Status UploadMultipart(const std::string& key, int fd, std::uint64_t length);
  Result<bool> CopyInPlace(const std::string& key);
  Status DeleteKey(const std::string& key);
  Status DeleteLocked(std::string_view sha256);

  S3BlobStoreOptions options_;
  S3Client client_;
  std::unique_ptr<BlobDiskCache> cache_;
  std::array<std::mutex, 256> locks_;
};

// Maps an S3 answer that is not a success to an Error: 404 kNotFound, 403 kForbidden, other
// 4xx kInternal (our request was wrong), anything else kUnavailable. Logs the S3 error code.
Error S3StatusError(const S3Response& response, std::string_view what);

}  // namespace replideploy::store

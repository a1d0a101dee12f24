// Content-addressed blob storage: every file of every deploy is stored once, named by the
// SHA-256 of its bytes (64 lowercase hex characters), whatever site or deploy it came from.
// Next to a blob the store may keep precompressed variants of it (brotli, gzip).
//
// BlobStore is the backend-neutral interface; LocalBlobStore keeps blobs on a local file
// system, S3BlobStore (store/s3_blob_store.hpp) in an S3-compatible bucket. Every digest argument
// is checked to be exactly 64 lowercase hex characters before anything else happens (kBadRequest
// otherwise): digests become object names, so nothing else may reach the file system or a bucket.
//
// Errors: kBadRequest (malformed digest), kNotFound (no such blob or variant), kUnprocessable
// (content does not match the digest it was declared with), kUnavailable (out of disk space),
// kInternal (any other I/O failure; the details go to the log).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace replideploy::store {

// The stored encodings of a blob. kIdentity is the content itself; the others are optional
// precompressed copies of it, made by Precompress (store/precompress.hpp).
enum class Variant { kIdentity, kBrotli, kGzip };

// "" for kIdentity, ".br", ".gz": the suffix a variant's object name carries.
std::string_view VariantSuffix(Variant variant);
// The Content-Encoding a variant is served with: "" (none), "br", "gzip".
std::string_view VariantContentEncoding(Variant variant);

// What Put and BlobWriter::Commit return. Both digests are lowercase hex: the store names blobs
// by SHA-256, Netlify's deploy API names files by SHA-1.
struct BlobInfo {
  std::string sha256;
  std::string sha1;
  std::uint64_t size = 0;
};

// One entry of BlobStore::List.
struct StoredBlob {
  std::string sha256;
  std::uint64_t size = 0;
  // Last time the blob was written or claimed (Put of existing content, Touch).
  std::chrono::system_clock::time_point mtime;
};

// True when `digest` is exactly 64 characters of [0-9a-f].
bool IsValidSha256(std::string_view digest);
// kBadRequest "invalid SHA-256 digest" unless IsValidSha256(digest).
Status ValidateSha256(std::string_view digest);

// SHA-256 and SHA-1 of a byte stream in one pass, for backends and callers that hash as data
// arrives. Not thread-safe; one instance per stream.
class BlobDigester {
 public:
  BlobDigester();
  ~BlobDigester();
  BlobDigester(const BlobDigester&) = delete;
  BlobDigester& operator=(const BlobDigester&) = delete;

  void Update(std::string_view data);
  // The digests and byte count of everything passed to Update. Call once; kInternal if the
  // hash library failed.
  Result<BlobInfo> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Receives one blob in chunks (an upload arriving over the network). Not thread-safe: one
// owner feeds it. Destroying a writer that was not committed discards everything written;
// nothing becomes visible in the store before Commit succeeds. A writer must not outlive the
// store that made it.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;

  // Appends `chunk`. After a failure the writer is unusable and Commit fails.
  virtual Status Write(std::string_view chunk) = 0;

  // Finishes the blob. With `expected_sha256` given, the content must hash to it: otherwise
  // kUnprocessable "content does not match its digest" and nothing is stored. When the store
  // already holds the content, the existing blob is kept (and claimed, as Touch does) and the
  // written bytes are dropped. On success the blob is durable (survives a crash or power loss).
  // Either way the writer is finished: a second Commit or a Write fails with kInternal.
  virtual Result<BlobInfo> Commit(std::string_view expected_sha256) = 0;

  // Bytes written so far (for the caller's size limits).
  virtual std::uint64_t BytesWritten() const = 0;
};

// Thread-safe: every method may be called concurrently from any thread (and, for backends that
// say so, from several processes sharing the storage).
//
// Garbage collection (store/gc.hpp) relies on two guarantees of every backend:
//   - a blob's mtime moves to "now" whenever its content is stored again or it is claimed with
//     Touch, and
//   - DeleteIfOlderThan decides and deletes atomically with respect to Put, Touch and
//     Commit of the same digest.
class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores `data` (see BlobWriter::Commit for `expected_sha256`, dedup and durability). When
  // the content is already stored nothing is written; the existing blob is claimed.
  Result<BlobInfo> Put(std::string_view data, std::string_view expected_sha256 = {});

  // The same for the content of the file at `path`, streamed in chunks (never read into memory
  // whole). The path is the caller's (e.g. build output), opened without following a symbolic
  // link in its last component: kBadRequest for a symlink or anything but a regular file,
  // kNotFound when missing. Callers walking untrusted trees must still keep `path` inside them.
  Result<BlobInfo> PutFile(const std::string& path, std::string_view expected_sha256 = {});

  // The same for an open regular file, read from its current offset to its end (the descriptor
  // stays the caller's). For files opened beneath an untrusted tree (sandbox/untrusted_tree.hpp).
  // `name` is for log lines only. kBadRequest when `fd` is not a regular file.
  Result<BlobInfo> PutFd(int fd, const std::string& name, std::string_view expected_sha256 = {});

  // A writer for content arriving in chunks. The writer must not outlive the store.
  virtual Result<std::unique_ptr<BlobWriter>> NewWriter() = 0;

  // Put without the per-blob durability: the blob is stored and readable at once, but until
  // SyncBlobs covers it a crash of the machine (not of the process) may lose or truncate it.
  // For many small blobs that must become durable together (a deploy's uploads): one sync for
  // all instead of two per blob. Backends whose writes are always durable (S3) just Put.
  // When the content is already stored nothing is written (as Put), and nothing says whether
  // that copy was synced: callers treat it as not synced unless they know better.
  virtual Result<BlobInfo> PutUnsynced(std::string_view data) { return Put(data); }

  // Whether PutUnsynced really skips the sync (false: its blobs are durable at once, as Put's).
  virtual bool DefersSync() const { return false; }

  // Makes durable the blobs (identity content) stored with PutUnsynced; malformed digests are
  // kBadRequest, missing blobs are skipped. A no-op for backends whose writes are durable.
  // Note that Put (or a writer) of content stored unsynced keeps the existing copy as it is:
  // only SyncBlobs makes that copy durable.
  virtual Status SyncBlobs(const std::vector<std::string>& /*sha256s*/) { return {}; }

  // Whether the blob (or one of its variants) is stored.
  virtual Result<bool> Has(std::string_view sha256, Variant variant) = 0;

  // Marks a stored blob as in use right now (its mtime becomes the current time), so a garbage
  // collection running concurrently keeps it. Returns false, changing nothing, when the blob is
  // not stored. Callers that reuse stored content instead of uploading it claim it this way.
  virtual Result<bool> Touch(std::string_view sha256) = 0;

  // Touch for many digests (a deploy's reused files): element i says whether digests[i] is
  // stored, and then claimed. Fails as a whole when any claim fails (the others may have been
  // made). This one claims one after the other; backends with slow round trips (S3) override
  // it to send the claims concurrently.
  virtual Result<std::vector<bool>> TouchMany(const std::vector<std::string>& digests);

  // The whole content of a blob or variant. kNotFound when missing. Meant for small blobs
  // (rules files, precompression); the edge streams big files from LocalPath.
  virtual Result<std::string> Read(std::string_view sha256, Variant variant) = 0;

  // Size in bytes of a blob or variant. kNotFound when missing.
  virtual Result<std::uint64_t> Size(std::string_view sha256, Variant variant) = 0;

  // The local file holding the blob or variant, for sendfile/mmap; the file is opened by the
  // caller, who must handle it being absent (nothing here checks that it exists). nullopt for
  // an invalid digest and for backends that do not keep blobs on a local file system.
  virtual std::optional<std::string> LocalPath(std::string_view sha256, Variant variant) = 0;

  // Stores a precompressed variant of a stored blob, replacing an existing one. The caller
  // vouches that `data` is the blob's content in that encoding; it is not checked. kBadRequest
  // for Variant::kIdentity (use Put), kNotFound when the blob itself is not stored. Durable on
  // success.
  virtual Status PutVariant(std::string_view sha256, Variant variant, std::string_view data) = 0;

  // Removes a blob and its variants. Succeeds when they were already absent.
  virtual Status Delete(std::string_view sha256) = 0;

  // Removes a blob and its variants only if the blob's mtime is before `cutoff`; decided and
  // done atomically with respect to Put, Commit, Touch and PutVariant of the same digest.
  // Returns whether it deleted the blob (false when absent or too young).
  virtual Result<bool> DeleteIfOlderThan(std::string_view sha256,
                                         std::chrono::system_clock::time_point cutoff) = 0;

  // Every stored blob (identity content only; variants go with their blob), in no particular
  // order. Blobs stored or deleted while it runs may or may not be listed.
  virtual Result<std::vector<StoredBlob>> List() = 0;
};

struct LocalBlobStoreOptions {
  // Temporary files older than this, left by a crash or a killed process, are removed by Open.
  std::chrono::seconds stale_temp_age = std::chrono::hours(1);
};

// Blobs under one root directory:
//   <root>/blobs/ab/cd/<sha256>       the content, for sha256 = "abcd..."
//   <root>/blobs/ab/cd/<sha256>.br    brotli variant
//   <root>/blobs/ab/cd/<sha256>.gz    gzip variant
//   <root>/tmp/                       writes in progress, renamed into place when complete
// Crash safety: content is written to <root>/tmp (same file system), fsynced, renamed into
// place and the directory fsynced, so after a crash a name under blobs/ holds either nothing or
// the complete, correct content. PutUnsynced skips the fsyncs: its blobs may be missing or
// damaged after a machine crash until SyncBlobs (one syncfs for many blobs) made them durable;
// callers record which blobs are not synced yet and check them after a crash.
// Files are created with mode 0644.
//
// Thread-safe. Operations on one digest are serialised in-process (DeleteIfOlderThan against
// Touch/Commit); several processes may share a root, but then that atomicity holds only within
// each process.
class LocalBlobStore final : public BlobStore {
 public:
  // Creates the directories as needed and removes stale temporary files. kInternal when the
  // root cannot be created or is not writable.
  static Result<std::unique_ptr<LocalBlobStore>> Open(const std::string& root,
                                                      LocalBlobStoreOptions options = {});

  Result<std::unique_ptr<BlobWriter>> NewWriter() override;
  Result<BlobInfo> PutUnsynced(std::string_view data) override;
  bool DefersSync() const override { return true; }
  Status SyncBlobs(const std::vector<std::string>& sha256s) override;
  Result<bool> Has(std::string_view sha256, Variant variant) override;
  Result<bool> Touch(std::string_view sha256) override;
  Result<std::string> Read(std::string_view sha256, Variant variant) override;
  Result<std::uint64_t> Size(std::string_view sha256, Variant variant) override;
  std::optional<std::string> LocalPath(std::string_view sha256, Variant variant) override;
  Status PutVariant(std::string_view sha256, Variant variant, std::string_view data) override;
  Status Delete(std::string_view sha256) override;
  Result<bool> DeleteIfOlderThan(std::string_view sha256,
                                 std::chrono::system_clock::time_point cutoff) override;
  Result<std::vector<StoredBlob>> List() override;

  const std::string& Root() const { return root_; }

 private:
  class Writer;
  friend class Writer;

  explicit LocalBlobStore(std::string root);

  std::string PathFor(std::string_view sha256, Variant variant) const;
  std::string DirFor(std::string_view sha256) const;
  std::mutex& LockFor(std::string_view sha256);
  // A new temporary file under <root>/tmp: its descriptor and path.
  Result<std::pair<int, std::string>> CreateTemp();
  // Creates blobs/ab and blobs/ab/cd (durably, unless not `durable`) when missing. Call with
  // LockFor held.
  Status EnsureDir(std::string_view sha256, bool durable = true);
  // Renames a complete, fsynced temporary file into place. The caller then forgets the
  // temporary name (another file may take it) and calls FsyncDir(DirFor(sha256)). Call with
  // LockFor held.
  Status MoveIntoPlace(const std::string& temp_path, std::string_view sha256, Variant variant);
  // Unlinks the variants, then the blob, then fsyncs the directory. Call with LockFor held.
  Status DeleteLocked(std::string_view sha256);

  std::string root_;
  std::string blobs_dir_;
  std::string tmp_dir_;
  // Serialises operations on digests by their first byte.
  std::array<std::mutex, 256> locks_;
};

}  // namespace replideploy::store

#include "store/s3_blob_store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <optional>
#include <thread>

#include "store/posix_file.hpp"
#include "store/spooled_writer.hpp"

namespace replideploy::store {

namespace {

using TimePoint = std::chrono::system_clock::time_point;

std::optional<std::uint64_t> ParseSize(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string CacheName(std::string_view sha256, Variant variant) {
  return std::string(sha256) + std::string(VariantSuffix(variant));
}

}  // namespace

Error S3StatusError(const S3Response& response, std::string_view what) {
  const std::string code = XmlText(response.body, "Code");
  if (response.status == 404)
    return MakeError(ErrorCode::kNotFound, std::string(what) + ": not found");
  spdlog::error("s3: {}: HTTP {} {} {}", what, response.status, code,
                XmlText(response.body, "Message"));
  if (response.status == 403) {
    return MakeError(ErrorCode::kForbidden, "the object store refused the credentials");
  }
  if (response.status >= 400 && response.status < 500) {
    return MakeError(ErrorCode::kInternal, "the object store rejected a request");
  }
  return MakeError(ErrorCode::kUnavailable, "the object store is unavailable");
}

Result<std::pair<std::string, std::string>> ParseS3Url(std::string_view url) {
  if (!url.starts_with("s3://")) {
    return MakeError(ErrorCode::kBadRequest, "blob store URL must look like s3://bucket/prefix");
  }
  url.remove_prefix(5);
  const auto slash = url.find('/');
  std::string bucket(url.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : url.substr(slash + 1));
  if (bucket.empty()) return MakeError(ErrorCode::kBadRequest, "s3:// URL without a bucket");
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  while (prefix.size() > 1 && prefix.ends_with("//")) prefix.pop_back();
  if (!prefix.empty() && !prefix.ends_with('/')) prefix.push_back('/');
  return std::pair<std::string, std::string>(std::move(bucket), std::move(prefix));
}

class S3BlobStore::Writer final : public SpooledWriter {
 public:
  Writer(S3BlobStore& store, UniqueFd fd, std::string path)
      : SpooledWriter(TempFile(std::move(fd), std::move(path))), store_(store) {}

 private:
  Result<BlobInfo> Store(const BlobInfo& info) override {
    TempFile& spool = temp();
    const std::string key = store_.KeyFor(info.sha256, Variant::kIdentity);
    {
      std::lock_guard lock(store_.LockFor(info.sha256));
      RD_TRY(S3Response head, store_.Head(key));
      const auto length = head.headers.find("content-length");
      // A size mismatch means the stored object was damaged outside our control: replace it.
      if (head.status == 200 && length != head.headers.end() &&
          length->second == std::to_string(info.size)) {
        RD_TRY(bool claimed, store_.CopyInPlace(key));
        if (claimed) return info;
      }
      RD_TRY_STATUS(store_.Upload(key, spool.fd.Get(), info.size, info.sha256));
    }
    // What was just uploaded is likely to be served soon (the edge of `serve`).
    spool.fd.Reset();
    auto cached = store_.cache_->Insert(CacheName(info.sha256, Variant::kIdentity), spool.path);
    if (cached.ok()) spool.Installed();
    return info;
  }

  S3BlobStore& store_;
};

S3BlobStore::S3BlobStore(S3BlobStoreOptions options, std::unique_ptr<BlobDiskCache> cache)
    : options_(std::move(options)), client_(options_.client), cache_(std::move(cache)) {}

Result<std::unique_ptr<S3BlobStore>> S3BlobStore::Open(S3BlobStoreOptions options) {
  if (options.client.bucket.empty()) {
    return MakeError(ErrorCode::kBadRequest, "the S3 blob store needs a bucket");
  }
  if (!options.prefix.empty() && !options.prefix.ends_with('/')) options.prefix.push_back('/');
  if (options.part_size < (std::uint64_t{5} << 20)) options.part_size = std::uint64_t{5} << 20;
  if (options.multipart_threshold < options.part_size) {
    options.multipart_threshold = options.part_size;
  }
  RD_TRY(std::unique_ptr<BlobDiskCache> cache,
         BlobDiskCache::Open(options.cache_dir, options.cache_bytes));
  std::unique_ptr<S3BlobStore> store(new S3BlobStore(std::move(options), std::move(cache)));
  RD_TRY(S3Response probe,
         store->client_.Send(S3Request{
             "GET",
             "",
             {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", store->options_.prefix + "blobs/"}},
             {},
             {},
             -1}));
  if (probe.status != 200) {
    Error error = S3StatusError(probe, "bucket " + store->options_.client.bucket);
    if (probe.status == 404) error.message = "the bucket does not exist";
    return error;
  }
  return store;
}

std::string S3BlobStore::KeyFor(std::string_view sha256, Variant variant) const {
  std::string key = options_.prefix;
  key.append("blobs/")
      .append(sha256.substr(0, 2))
      .append("/")
      .append(sha256.substr(2, 2))
      .append("/")
      .append(sha256)
      .append(VariantSuffix(variant));
  return key;
}

std::mutex& S3BlobStore::LockFor(std::string_view sha256) {
  auto nibble = [](char c) -> std::size_t {
    return static_cast<std::size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  };
  return locks_[nibble(sha256[0]) * 16 + nibble(sha256[1])];
}

Result<S3Response> S3BlobStore::Head(const std::string& key) {
  RD_TRY(S3Response response, client_.Send(S3Request{"HEAD", key, {}, {}, {}, -1}));
  if (response.status != 200 && response.status != 404) return S3StatusError(response, key);
  return response;
}

Status S3BlobStore::Upload(const std::string& key, int fd, std::uint64_t length,
                           const std::string& sha256) {
  if (length > options_.multipart_threshold) return UploadMultipart(key, fd, length);
  S3Request put{"PUT", key, {}, {}, {}, -1};
  put.body.fd = fd;
  put.body.length = length;
  put.body.sha256 = sha256;  // the blob's digest is its payload hash
  RD_TRY(S3Response response, client_.Send(put));
  if (response.status != 200) return S3StatusError(response, key);
  return {};
}

Status S3BlobStore::UploadMultipart(const std::string& key, int fd, std::uint64_t length) {
  RD_TRY(S3Response created, client_.Send(S3Request{"POST", key, {{"uploads", ""}}, {}, {}, -1}));
  if (created.status != 200) return S3StatusError(created, key);
  const std::string upload_id = XmlText(created.body, "UploadId");
  if (upload_id.empty()) {
    spdlog::error("s3: {}: CreateMultipartUpload answered without an UploadId", key);
    return MakeError(ErrorCode::kUnavailable, "the object store gave no upload id");
  }
  auto abort = [&](Error error) -> Status {
    auto aborted = client_.Send(S3Request{"DELETE", key, {{"uploadId", upload_id}}, {}, {}, -1});
    if (!aborted.ok() || aborted->status >= 300) {
      spdlog::warn("s3: {}: cannot abort multipart upload {}", key, upload_id);
    }
    return error;
  };

  std::string complete = "<CompleteMultipartUpload>";
  int part_number = 1;
  for (std::uint64_t offset = 0; offset < length; offset += options_.part_size, ++part_number) {
    S3Request part{
        "PUT", key, {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}},
        {},    {},  -1};
    part.body.fd = fd;
    part.body.offset = offset;
    part.body.length = std::min(options_.part_size, length - offset);
    auto sent = client_.Send(part);
    if (!sent.ok()) return abort(std::move(sent).error());
    if (sent->status != 200) return abort(S3StatusError(*sent, key));
    const auto etag = sent->headers.find("etag");
    if (etag == sent->headers.end()) {
      return abort(MakeError(ErrorCode::kUnavailable, "the object store gave no part ETag"));
    }
    complete += "<Part><PartNumber>" + std::to_string(part_number) + "</PartNumber><ETag>" +
                etag->second + "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  S3Request finish{"POST", key, {{"uploadId", upload_id}}, {}, {}, -1};
  finish.body.data = complete;
  auto finished = client_.Send(finish);
  if (!finished.ok()) return abort(std::move(finished).error());
  // CompleteMultipartUpload can fail with 200 and an <Error> body.
  if (finished->status != 200 || finished->body.find("<Error>") != std::string::npos) {
    return abort(S3StatusError(*finished, key));
  }
  return {};
}

Result<bool> S3BlobStore::CopyInPlace(const std::string& key) {
  // S3 allows copying an object onto itself only when something changes: the metadata.
  S3Request copy{
      "PUT",
      key,
      {},
      {{"x-amz-copy-source", "/" + options_.client.bucket + "/" + SigV4UriEncode(key, false)},
       {"x-amz-metadata-directive", "REPLACE"}},
      {},
      -1};
  RD_TRY(S3Response response, client_.Send(copy));
  if (response.status == 404) return false;
  if (response.status != 200 || response.body.find("<Error>") != std::string::npos) {
    return S3StatusError(response, key);
  }
  return true;
}

Status S3BlobStore::DeleteKey(const std::string& key) {
  RD_TRY(S3Response response, client_.Send(S3Request{"DELETE", key, {}, {}, {}, -1}));
  if (response.status != 204 && response.status != 200 && response.status != 404) {
    return S3StatusError(response, key);
  }
  return {};
}

Result<std::unique_ptr<BlobWriter>> S3BlobStore::NewWriter() {
  RD_TRY(auto temp, cache_->CreateTemp());
  return std::unique_ptr<BlobWriter>(
      new Writer(*this, UniqueFd(temp.first), std::move(temp.second)));
}

Result<bool> S3BlobStore::Has(std::string_view sha256, Variant variant) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  RD_TRY(S3Response head, Head(KeyFor(sha256, variant)));
  return head.status == 200;
}

Result<bool> S3BlobStore::Touch(std::string_view sha256) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  std::lock_guard lock(LockFor(sha256));
  return CopyInPlace(KeyFor(sha256, Variant::kIdentity));
}

Result<std::vector<bool>> S3BlobStore::TouchMany(const std::vector<std::string>& digests) {
  for (const std::string& digest : digests) RD_TRY_STATUS(ValidateSha256(digest));
  // std::vector<bool> packs bits: one byte per answer, so threads never share a word.
  std::vector<char> stored(digests.size(), 0);
  std::atomic<std::size_t> next{0};
  std::mutex error_mu;
  std::optional<Error> first_error;
  auto work = [&] {
    for (std::size_t i = next++; i < digests.size(); i = next++) {
      {
        std::lock_guard lock(error_mu);
        if (first_error) return;
      }
      Result<bool> claimed = Touch(digests[i]);
      if (!claimed.ok()) {
        std::lock_guard lock(error_mu);
        if (!first_error) first_error = std::move(claimed).error();
        return;
      }
      stored[i] = *claimed ? 1 : 0;
    }
  };
  std::vector<std::thread> workers;
  const std::size_t helpers = std::min(kConcurrentClaims, digests.size());
  for (std::size_t t = 1; t < helpers; ++t) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  if (first_error) return *std::move(first_error);
  return std::vector<bool>(stored.begin(), stored.end());
}

Result<std::string> S3BlobStore::Read(std::string_view sha256, Variant variant) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  if (auto path = cache_->Lookup(CacheName(sha256, variant))) {
    UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.IsValid()) {
      std::string content;
      char buffer[64 * 1024];
      for (;;) {
        RD_TRY(std::size_t n, ReadSome(fd.Get(), buffer, sizeof buffer, *path));
        if (n == 0) return content;
        content.append(buffer, n);
      }
    }
  }
  const std::string key = KeyFor(sha256, variant);
  RD_TRY(S3Response response, client_.Send(S3Request{"GET", key, {}, {}, {}, -1}));
  if (response.status != 200) return S3StatusError(response, key);
  return std::move(response.body);
}

Result<std::uint64_t> S3BlobStore::Size(std::string_view sha256, Variant variant) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  if (auto path = cache_->Lookup(CacheName(sha256, variant))) {
    struct stat st {};
    if (::stat(path->c_str(), &st) == 0) return static_cast<std::uint64_t>(st.st_size);
  }
  const std::string key = KeyFor(sha256, variant);
  RD_TRY(S3Response head, Head(key));
  if (head.status != 200) return S3StatusError(head, key);
  const auto length = head.headers.find("content-length");
  if (length == head.headers.end()) {
    return MakeError(ErrorCode::kUnavailable, "the object store gave no Content-Length");
  }
  const auto size = ParseSize(length->second);
  if (!size)
    return MakeError(ErrorCode::kUnavailable, "the object store gave a bad Content-Length");
  return *size;
}

std::optional<std::string> S3BlobStore::LocalPath(std::string_view sha256, Variant variant) {
  if (!IsValidSha256(sha256)) return std::nullopt;
  const std::string name = CacheName(sha256, variant);
  if (auto path = cache_->Lookup(name)) return path;
  auto temp = cache_->CreateTemp();
  if (!temp.ok()) return std::nullopt;
  TempFile download;
  download.fd = UniqueFd(temp->first);
  download.path = std::move(temp->second);
  const std::string key = KeyFor(sha256, variant);
  auto response = client_.Send(S3Request{"GET", key, {}, {}, {}, download.fd.Get()});
  if (!response.ok()) return std::nullopt;
  if (response->status != 200) {
    if (response->status != 404) (void)S3StatusError(*response, key);
    return std::nullopt;
  }
  download.fd.Reset();
  auto inserted = cache_->Insert(name, download.path);
  if (!inserted.ok() || !inserted->has_value()) return std::nullopt;
  download.path.clear();
  return **inserted;
}

Status S3BlobStore::PutVariant(std::string_view sha256, Variant variant, std::string_view data) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  if (variant == Variant::kIdentity) {
    return MakeError(ErrorCode::kBadRequest, "PutVariant takes a compressed variant; use Put");
  }
  std::lock_guard lock(LockFor(sha256));
  const std::string blob_key = KeyFor(sha256, Variant::kIdentity);
  RD_TRY(S3Response head, Head(blob_key));
  if (head.status != 200) return S3StatusError(head, blob_key);
  const std::string key = KeyFor(sha256, variant);
  S3Request put{"PUT", key, {}, {}, {}, -1};
  put.body.data = data;
  RD_TRY(S3Response response, client_.Send(put));
  if (response.status != 200) return S3StatusError(response, key);
  cache_->Erase(CacheName(sha256, variant));
  return {};
}

Status S3BlobStore::DeleteLocked(std::string_view sha256) {
  // Variants first: a failure part-way leaves a blob short of a variant, never a variant
  // without its blob.
  for (Variant v : {Variant::kBrotli, Variant::kGzip, Variant::kIdentity}) {
    RD_TRY_STATUS(DeleteKey(KeyFor(sha256, v)));
    cache_->Erase(CacheName(sha256, v));
  }
  return {};
}

Status S3BlobStore::Delete(std::string_view sha256) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  std::lock_guard lock(LockFor(sha256));
  return DeleteLocked(sha256);
}

Result<bool> S3BlobStore::DeleteIfOlderThan(std::string_view sha256, TimePoint cutoff) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  std::lock_guard lock(LockFor(sha256));
  const std::string key = KeyFor(sha256, Variant::kIdentity);
  RD_TRY(S3Response head, Head(key));
  if (head.status == 404) return false;
  const auto modified = head.headers.find("last-modified");
  const auto mtime = modified == head.headers.end() ? std::nullopt : ParseS3Time(modified->second);
  if (!mtime) {
    spdlog::error("s3: {}: no usable Last-Modified; not deleting", key);
    return MakeError(ErrorCode::kUnavailable, "the object store gave no Last-Modified");
  }
  if (*mtime >= cutoff) return false;
  RD_TRY_STATUS(DeleteLocked(sha256));
  return true;
}

Result<std::vector<StoredBlob>> S3BlobStore::List() {
  std::vector<StoredBlob> blobs;
  const std::string prefix = options_.prefix + "blobs/";
  std::string continuation;
  for (;;) {
    S3Request list{"GET", "", {{"list-type", "2"}, {"prefix", prefix}}, {}, {}, -1};
    if (!continuation.empty()) list.query.emplace_back("continuation-token", continuation);
    RD_TRY(S3Response response, client_.Send(list));
    if (response.status != 200) return S3StatusError(response, "list " + prefix);
    for (std::string_view contents : XmlElements(response.body, "Contents")) {
      const std::string key = XmlText(contents, "Key");
      // <prefix>blobs/ab/cd/<sha256>: variants and strays are skipped.
      if (key.size() != prefix.size() + 6 + 64) continue;
      const std::string sha256 = key.substr(prefix.size() + 6);
      if (!IsValidSha256(sha256) || key != KeyFor(sha256, Variant::kIdentity)) continue;
      const auto mtime = ParseS3Time(XmlText(contents, "LastModified"));
      const auto size = ParseSize(XmlText(contents, "Size"));
      if (!mtime || !size) continue;
      blobs.push_back(StoredBlob{sha256, *size, *mtime});
    }
    if (XmlText(response.body, "IsTruncated") != "true") break;
    continuation = XmlText(response.body, "NextContinuationToken");
    if (continuation.empty()) break;
  }
  return blobs;
}

}  // namespace replideploy::store

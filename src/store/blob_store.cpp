#include "store/blob_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/crypto.hpp"
#include "store/posix_file.hpp"

namespace replideploy::store {

namespace {
constexpr std::size_t kFileChunkBytes = std::size_t{256} * 1024;
}  // namespace

std::string_view VariantSuffix(Variant variant) {
  switch (variant) {
    case Variant::kIdentity:
      return "";
    case Variant::kBrotli:
      return ".br";
    case Variant::kGzip:
      return ".gz";
  }
  return "";
}

std::string_view VariantContentEncoding(Variant variant) {
  switch (variant) {
    case Variant::kIdentity:
      return "";
    case Variant::kBrotli:
      return "br";
    case Variant::kGzip:
      return "gzip";
  }
  return "";
}

bool IsValidSha256(std::string_view digest) {
  if (digest.size() != 64) return false;
  for (char c : digest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ValidateSha256(std::string_view digest) {
  if (!IsValidSha256(digest)) {
    return MakeError(ErrorCode::kBadRequest,
                     "invalid SHA-256 digest: expected 64 lowercase hex characters");
  }
  return {};
}

struct BlobDigester::State {
  EVP_MD_CTX* sha256 = nullptr;
  EVP_MD_CTX* sha1 = nullptr;
  std::uint64_t size = 0;
  bool ok = false;
  bool finished = false;

  ~State() {
    EVP_MD_CTX_free(sha256);
    EVP_MD_CTX_free(sha1);
  }
};

BlobDigester::BlobDigester() : state_(std::make_unique<State>()) {
  state_->sha256 = EVP_MD_CTX_new();
  state_->sha1 = EVP_MD_CTX_new();
  state_->ok = state_->sha256 != nullptr && state_->sha1 != nullptr &&
               EVP_DigestInit_ex(state_->sha256, EVP_sha256(), nullptr) == 1 &&
               EVP_DigestInit_ex(state_->sha1, EVP_sha1(), nullptr) == 1;
}

BlobDigester::~BlobDigester() = default;

void BlobDigester::Update(std::string_view data) {
  if (!state_->ok || state_->finished || data.empty()) return;
  state_->ok = EVP_DigestUpdate(state_->sha256, data.data(), data.size()) == 1 &&
               EVP_DigestUpdate(state_->sha1, data.data(), data.size()) == 1;
  state_->size += data.size();
}

Result<BlobInfo> BlobDigester::Finish() {
  if (!state_->ok || state_->finished) {
    return MakeError(ErrorCode::kInternal, "hashing failed");
  }
  state_->finished = true;
  unsigned char sha256[EVP_MAX_MD_SIZE];
  unsigned char sha1[EVP_MAX_MD_SIZE];
  unsigned int sha256_len = 0;
  unsigned int sha1_len = 0;
  if (EVP_DigestFinal_ex(state_->sha256, sha256, &sha256_len) != 1 ||
      EVP_DigestFinal_ex(state_->sha1, sha1, &sha1_len) != 1) {
    return MakeError(ErrorCode::kInternal, "hashing failed");
  }
  return BlobInfo{
      core::HexEncode(std::string_view(reinterpret_cast<const char*>(sha256), sha256_len)),
      core::HexEncode(std::string_view(reinterpret_cast<const char*>(sha1), sha1_len)),
      state_->size};
}

Result<std::vector<bool>> BlobStore::TouchMany(const std::vector<std::string>& digests) {
  std::vector<bool> stored;
  stored.reserve(digests.size());
  for (const std::string& digest : digests) {
    RD_TRY(bool present, Touch(digest));
    stored.push_back(present);
  }
  return stored;
}

Result<BlobInfo> BlobStore::Put(std::string_view data, std::string_view expected_sha256) {
  if (!expected_sha256.empty()) RD_TRY_STATUS(ValidateSha256(expected_sha256));
  // Hash first: stored content is then claimed without writing a byte.
  BlobDigester digester;
  digester.Update(data);
  RD_TRY(BlobInfo info, digester.Finish());
  if (!expected_sha256.empty() && info.sha256 != expected_sha256) {
    return MakeError(ErrorCode::kUnprocessable, "content does not match its digest");
  }
  RD_TRY(bool stored, Touch(info.sha256));
  if (stored) return info;
  RD_TRY(std::unique_ptr<BlobWriter> writer, NewWriter());
  RD_TRY_STATUS(writer->Write(data));
  return writer->Commit(info.sha256);
}

Result<BlobInfo> BlobStore::PutFile(const std::string& path, std::string_view expected_sha256) {
  if (!expected_sha256.empty()) RD_TRY_STATUS(ValidateSha256(expected_sha256));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.IsValid()) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "file not found");
    if (errno == ELOOP) return MakeError(ErrorCode::kBadRequest, "not a regular file");
    return IoError("open", path, errno);
  }
  return PutFd(fd.Get(), path, expected_sha256);
}

Result<BlobInfo> BlobStore::PutFd(int fd, const std::string& name,
                                  std::string_view expected_sha256) {
  if (!expected_sha256.empty()) RD_TRY_STATUS(ValidateSha256(expected_sha256));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError("fstat", name, errno);
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kBadRequest, "not a regular file");

  RD_TRY(std::unique_ptr<BlobWriter> writer, NewWriter());
  std::string buffer(kFileChunkBytes, '\0');
  for (;;) {
    RD_TRY(std::size_t n, ReadSome(fd, buffer.data(), buffer.size(), name));
    if (n == 0) break;
    RD_TRY_STATUS(writer->Write(std::string_view(buffer.data(), n)));
  }
  return writer->Commit(expected_sha256);
}

}  // namespace replideploy::store

#include "store/precompress.hpp"

#include <brotli/encode.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>

namespace replideploy::store {

namespace {

std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return lower;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

constexpr std::array<std::string_view, 22> kCompressibleTypes = {
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/json",
    "application/xml",
    "application/wasm",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/graphql",
    "application/x-sh",
    "application/rtf",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-font-otf",
    "application/x-font-opentype",
    "font/ttf",
    "font/otf",
    "font/opentype",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
};

bool IsTextLike(std::string_view media_type) {
  return media_type.starts_with("text/") || media_type.find("javascript") != std::string::npos ||
         media_type.find("json") != std::string::npos ||
         media_type.find("xml") != std::string::npos;
}

}  // namespace

bool IsCompressible(std::string_view content_type) {
  const std::string type = MediaType(content_type);
  if (type.starts_with("text/")) return true;
  if (EndsWith(type, "+json") || EndsWith(type, "+xml")) return true;  // svg, manifest, feeds
  return std::find(kCompressibleTypes.begin(), kCompressibleTypes.end(), type) !=
         kCompressibleTypes.end();
}

Result<std::string> BrotliCompress(std::string_view data, int quality, bool text) {
  std::size_t out_size = BrotliEncoderMaxCompressedSize(data.size());
  if (out_size == 0) return MakeError(ErrorCode::kInternal, "content too large to compress");
  std::string out(out_size, '\0');
  // A window no larger than the input: same output size, far less memory to set up, which is
  // most of the cost for the many small files of a site.
  int window = BROTLI_MIN_WINDOW_BITS;
  while (window < BROTLI_DEFAULT_WINDOW && (std::size_t{1} << window) < data.size() + 16) ++window;
  if (BrotliEncoderCompress(std::clamp(quality, BROTLI_MIN_QUALITY, BROTLI_MAX_QUALITY), window,
                            text ? BROTLI_MODE_TEXT : BROTLI_MODE_GENERIC, data.size(),
                            reinterpret_cast<const std::uint8_t*>(data.data()), &out_size,
                            reinterpret_cast<std::uint8_t*>(out.data())) != BROTLI_TRUE) {
    return MakeError(ErrorCode::kInternal, "brotli compression failed");
  }
  out.resize(out_size);
  return out;
}

Result<std::string> GzipCompress(std::string_view data, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return MakeError(ErrorCode::kInternal, "gzip compression failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min<std::size_t>(data.size(), ULONG_MAX))));
  std::size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    // zlib counts in uInt: feed big inputs in slices.
    const std::size_t slice = std::min<std::size_t>(data.size(), UINT_MAX);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(slice);
    if (out.size() - produced < 64) out.resize(out.size() * 2 + 64);
    const std::size_t room = std::min<std::size_t>(out.size() - produced, UINT_MAX);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&zs, slice == data.size() ? Z_FINISH : Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      return MakeError(ErrorCode::kInternal, "gzip compression failed");
    }
    data.remove_prefix(slice - zs.avail_in);
    produced += room - zs.avail_out;
  }
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

Result<PrecompressedVariants> Precompress(BlobStore& store, std::string_view sha256,
                                          std::string_view content_type) {
  RD_TRY_STATUS(ValidateSha256(sha256));
  PrecompressedVariants variants;
  if (!IsCompressible(content_type)) return variants;
  RD_TRY(std::uint64_t size, store.Size(sha256, Variant::kIdentity));
  if (size < kMinPrecompressBytes || size > kMaxPrecompressBytes) return variants;
  RD_TRY(variants.brotli, store.Has(sha256, Variant::kBrotli));
  RD_TRY(variants.gzip, store.Has(sha256, Variant::kGzip));
  if (variants.brotli && variants.gzip) return variants;

  RD_TRY(std::string content, store.Read(sha256, Variant::kIdentity));
  if (!variants.brotli) {
    const int quality =
        content.size() < kMaxBestBrotliBytes ? BROTLI_MAX_QUALITY : kLargeBrotliQuality;
    RD_TRY(std::string compressed,
           BrotliCompress(content, quality, IsTextLike(MediaType(content_type))));
    if (compressed.size() < content.size()) {
      RD_TRY_STATUS(store.PutVariant(sha256, Variant::kBrotli, compressed));
      variants.brotli = true;
    }
  }
  if (!variants.gzip) {
    RD_TRY(std::string compressed, GzipCompress(content, Z_BEST_COMPRESSION));
    if (compressed.size() < content.size()) {
      RD_TRY_STATUS(store.PutVariant(sha256, Variant::kGzip, compressed));
      variants.gzip = true;
    }
  }
  return variants;
}

}  // namespace replideploy::store

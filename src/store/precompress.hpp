// Precompressed variants: text-like blobs get brotli and gzip copies once, when a deploy is
// processed, so the edge never compresses per request.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "store/blob_store.hpp"

namespace replideploy::store {

// Blobs smaller than this gain too little from compression to be worth a variant.
inline constexpr std::uint64_t kMinPrecompressBytes = 256;
// Blobs larger than this are not precompressed (compression works on the whole content in
// memory).
inline constexpr std::uint64_t kMaxPrecompressBytes = 64ull * 1024 * 1024;
// Brotli's best quality is slow; it is used below this size and kLargeBrotliQuality above.
inline constexpr std::uint64_t kMaxBestBrotliBytes = std::uint64_t{1024} * 1024;
inline constexpr int kLargeBrotliQuality = 7;

// Whether content of this media type (parameters such as "; charset=utf-8" ignored, case
// insensitive) shrinks under compression: text/*, JavaScript, JSON, XML and their "+json" /
// "+xml" kinds (SVG, web app manifests, feeds), WebAssembly, uncompressed fonts (ttf, otf, eot),
// icons. Not images, audio, video, archives, PDF, woff/woff2 (already compressed).
bool IsCompressible(std::string_view content_type);

// Which variants of a blob exist after Precompress.
struct PrecompressedVariants {
  bool brotli = false;
  bool gzip = false;
};

// Makes the brotli and gzip variants of a stored blob (BlobStore::PutVariant) when its content
// type is compressible, its size is within [kMinPrecompressBytes, kMaxPrecompressBytes], and
// only where the compressed form is smaller than the original. Variants already stored are
// kept, not remade, so a second call does no compression work. Returns the variants that exist
// afterwards (none for incompressible types and sizes out of range). Errors: those of the store
// (kBadRequest for a malformed digest, kNotFound for a missing blob), kInternal when a
// compressor fails. Thread-safe as the store is; blocking and CPU-heavy.
Result<PrecompressedVariants> Precompress(BlobStore& store, std::string_view sha256,
                                          std::string_view content_type);

// Brotli (libbrotlienc) at `quality` 0..11; `text` picks the encoder's UTF-8 text mode.
// kInternal if the encoder fails.
Result<std::string> BrotliCompress(std::string_view data, int quality, bool text);
// gzip (RFC 1952, via zlib) at `level` 1..9, with a fixed header (no name, mtime 0), so the
// output depends only on the input. kInternal if zlib fails.
Result<std::string> GzipCompress(std::string_view data, int level);

}  // namespace replideploy::store

#include "store/content_type.hpp"

#include <algorithm>
#include <array>

namespace replideploy::store {

namespace {

struct ExtensionType {
  std::string_view extension;  // lowercase, sorted
  std::string_view content_type;
};

// Sorted by extension, for binary search.
constexpr std::array kTypes = {
    ExtensionType{"7z", "application/x-7z-compressed"},
    ExtensionType{"aac", "audio/aac"},
    ExtensionType{"apng", "image/apng"},
    ExtensionType{"atom", "application/atom+xml; charset=utf-8"},
    ExtensionType{"avif", "image/avif"},
    ExtensionType{"bmp", "image/bmp"},
    ExtensionType{"br", "application/x-brotli"},
    ExtensionType{"bz2", "application/x-bzip2"},
    ExtensionType{"cjs", "text/javascript; charset=utf-8"},
    ExtensionType{"css", "text/css; charset=utf-8"},
    ExtensionType{"csv", "text/csv; charset=utf-8"},
    ExtensionType{"eot", "application/vnd.ms-fontobject"},
    ExtensionType{"flac", "audio/flac"},
    ExtensionType{"gif", "image/gif"},
    ExtensionType{"gz", "application/gzip"},
    ExtensionType{"htm", "text/html; charset=utf-8"},
    ExtensionType{"html", "text/html; charset=utf-8"},
    ExtensionType{"ico", "image/x-icon"},
    ExtensionType{"ics", "text/calendar; charset=utf-8"},
    ExtensionType{"jpeg", "image/jpeg"},
    ExtensionType{"jpg", "image/jpeg"},
    ExtensionType{"js", "text/javascript; charset=utf-8"},
    ExtensionType{"json", "application/json; charset=utf-8"},
    ExtensionType{"jsonld", "application/ld+json; charset=utf-8"},
    ExtensionType{"jxl", "image/jxl"},
    ExtensionType{"m4a", "audio/mp4"},
    ExtensionType{"m4v", "video/mp4"},
    ExtensionType{"map", "application/json; charset=utf-8"},
    ExtensionType{"markdown", "text/markdown; charset=utf-8"},
    ExtensionType{"md", "text/markdown; charset=utf-8"},
    ExtensionType{"mjs", "text/javascript; charset=utf-8"},
    ExtensionType{"mov", "video/quicktime"},
    ExtensionType{"mp3", "audio/mpeg"},
    ExtensionType{"mp4", "video/mp4"},
    ExtensionType{"oga", "audio/ogg"},
    ExtensionType{"ogg", "audio/ogg"},
    ExtensionType{"ogv", "video/ogg"},
    ExtensionType{"opus", "audio/opus"},
    ExtensionType{"otf", "font/otf"},
    ExtensionType{"pdf", "application/pdf"},
    ExtensionType{"png", "image/png"},
    ExtensionType{"rss", "application/rss+xml; charset=utf-8"},
    ExtensionType{"rtf", "application/rtf"},
    ExtensionType{"svg", "image/svg+xml"},
    ExtensionType{"tar", "application/x-tar"},
    ExtensionType{"tif", "image/tiff"},
    ExtensionType{"tiff", "image/tiff"},
    ExtensionType{"toml", "application/toml; charset=utf-8"},
    ExtensionType{"ts", "video/mp2t"},
    ExtensionType{"tsv", "text/tab-separated-values; charset=utf-8"},
    ExtensionType{"ttf", "font/ttf"},
    ExtensionType{"txt", "text/plain; charset=utf-8"},
    ExtensionType{"vtt", "text/vtt; charset=utf-8"},
    ExtensionType{"wasm", "application/wasm"},
    ExtensionType{"wav", "audio/wav"},
    ExtensionType{"weba", "audio/webm"},
    ExtensionType{"webm", "video/webm"},
    ExtensionType{"webmanifest", "application/manifest+json; charset=utf-8"},
    ExtensionType{"webp", "image/webp"},
    ExtensionType{"woff", "font/woff"},
    ExtensionType{"woff2", "font/woff2"},
    ExtensionType{"xhtml", "application/xhtml+xml; charset=utf-8"},
    ExtensionType{"xml", "application/xml; charset=utf-8"},
    ExtensionType{"xsl", "application/xslt+xml; charset=utf-8"},
    ExtensionType{"yaml", "application/yaml; charset=utf-8"},
    ExtensionType{"yml", "application/yaml; charset=utf-8"},
    ExtensionType{"zip", "application/zip"},
};

static_assert(std::is_sorted(kTypes.begin(), kTypes.end(),
                             [](const ExtensionType& a, const ExtensionType& b) {
                               return a.extension < b.extension;
                             }));

constexpr std::size_t kMaxExtensionBytes = 16;

}  // namespace

std::string_view ContentTypeForPath(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return kDefaultContentType;
  const std::string_view extension = name.substr(dot + 1);
  if (extension.empty() || extension.size() > kMaxExtensionBytes) return kDefaultContentType;

  char lower[kMaxExtensionBytes];
  for (std::size_t i = 0; i < extension.size(); ++i) {
    const char c = extension[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view key(lower, extension.size());
  const auto it = std::lower_bound(
      kTypes.begin(), kTypes.end(), key,
      [](const ExtensionType& entry, std::string_view k) { return entry.extension < k; });
  if (it == kTypes.end() || it->extension != key) return kDefaultContentType;
  return it->content_type;
}

}  // namespace replideploy::store

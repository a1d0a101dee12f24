// Content-Type of a deploy file, from its extension: what the edge sends and what decides
// whether a blob is precompressed.
#pragma once

#include <string_view>

namespace replideploy::store {

inline constexpr std::string_view kDefaultContentType = "application/octet-stream";

// The media type for `path`'s extension (the text after the last '.' of the last '/'-separated
// segment, compared case-insensitively): "index.html" -> "text/html; charset=utf-8". Text types
// (text/*, JavaScript, JSON, XML, web app manifest) carry "; charset=utf-8". Unknown or missing
// extensions, and dotfiles without one ("/.htaccess"), give kDefaultContentType. The view
// refers to static storage. Thread-safe.
std::string_view ContentTypeForPath(std::string_view path);

}  // namespace replideploy::store

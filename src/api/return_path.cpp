#include "api/return_path.hpp"

#include <boost/url/parse.hpp>

#include "core/text.hpp"

namespace replideploy::api {

namespace {

constexpr std::size_t kMaxLength = 512;

bool PrintableAsciiWithoutBackslash(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\') return false;
  }
  return true;
}

bool HasControlOrBackslash(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') return true;
  }
  return false;
}

bool HasDotSegment(std::string_view path) {
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::optional<std::string> SameOriginPath(std::string_view text) {
  if (text.empty() || text.size() > kMaxLength || text.front() != '/') return std::nullopt;
  if (!PrintableAsciiWithoutBackslash(text)) return std::nullopt;
  auto url = boost::urls::parse_origin_form(text);
  if (!url || url->has_scheme() || url->has_authority() || url->has_fragment()) {
    return std::nullopt;
  }
  const std::string_view raw_path = url->encoded_path();
  if (raw_path.starts_with("//")) return std::nullopt;
  auto decoded = core::PercentDecodeStrict(raw_path);
  if (!decoded || decoded->starts_with("//") || HasControlOrBackslash(*decoded) ||
      HasDotSegment(*decoded)) {
    return std::nullopt;
  }
  return std::string(text);
}

}  // namespace replideploy::api

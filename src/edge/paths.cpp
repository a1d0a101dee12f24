#include "edge/paths.hpp"

#include <vector>

#include "core/text.hpp"

namespace replideploy::edge {

namespace {

Error BadPath(std::string reason) {
  return MakeError(ErrorCode::kBadRequest, "invalid request path: " + std::move(reason));
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

struct DecodedSegment {
  std::string bytes;
  bool has_encoded_dot = false;
};

// Decodes one segment (no '/' inside) and refuses what may not appear in a path.
Result<DecodedSegment> DecodeSegment(std::string_view raw) {
  DecodedSegment out;
  out.bytes.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    if (c == '%') {
      if (i + 2 >= raw.size()) return BadPath("truncated percent escape");
      const int byte = core::PercentEscapeAt(raw, i);
      if (byte < 0) return BadPath("malformed percent escape");
      c = static_cast<unsigned char>(byte);
      i += 2;
      if (c == 0) return BadPath("encoded NUL");
      if (c == '/') return BadPath("encoded slash (%2F)");
      if (c == '\\') return BadPath("encoded backslash (%5C)");
      if (IsControl(c)) return BadPath("encoded control character");
      if (c == '.') out.has_encoded_dot = true;
    } else {
      if (c == 0) return BadPath("NUL byte");
      if (c == '\\') return BadPath("backslash");
      if (IsControl(c)) return BadPath("control character");
    }
    out.bytes.push_back(static_cast<char>(c));
  }
  return out;
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  auto cont = [&](std::size_t k) { return k < n && (at(k) & 0xC0) == 0x80; };
  while (i < n) {
    const unsigned char c = at(i);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!cont(i + 1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (i + 1 >= n) return false;
      const unsigned char c1 = at(i + 1);
      if (c == 0xE0 && (c1 < 0xA0 || c1 > 0xBF)) return false;  // overlong
      if (c == 0xED && (c1 < 0x80 || c1 > 0x9F)) return false;  // surrogates
      if (!cont(i + 1) || !cont(i + 2)) return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (i + 1 >= n) return false;
      const unsigned char c1 = at(i + 1);
      if (c == 0xF0 && (c1 < 0x90 || c1 > 0xBF)) return false;  // overlong
      if (c == 0xF4 && (c1 < 0x80 || c1 > 0x8F)) return false;  // above U+10FFFF
      if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return false;
      i += 4;
    } else {
      return false;  // continuation byte first, C0/C1 overlong leads, F5..FF
    }
  }
  return true;
}

namespace {

// Whether `raw` (starting with '/') is already normal: printable ASCII without escapes or
// backslashes, no empty segment but a final one, no "." or ".." segment. Most requests' paths
// are, and are then their own normal form.
bool IsAlreadyNormal(std::string_view raw) {
  std::size_t segment_start = 1;
  for (std::size_t i = 1; i <= raw.size(); ++i) {
    if (i == raw.size() || raw[i] == '/') {
      const std::string_view seg = raw.substr(segment_start, i - segment_start);
      if (seg == "." || seg == "..") return false;
      if (seg.empty() && i != raw.size()) return false;  // "//"
      segment_start = i + 1;
      continue;
    }
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '\\') return false;
  }
  return true;
}

}  // namespace

Result<std::string> NormalizeRequestPath(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return BadPath("must start with '/'");
  if (raw.size() > kMaxRequestPathBytes) return BadPath("too long");
  if (IsAlreadyNormal(raw)) return std::string(raw);

  std::vector<std::string> segments;
  bool trailing_slash = false;
  std::size_t start = 1;
  while (true) {
    std::size_t end = raw.find('/', start);
    const bool last = end == std::string_view::npos;
    if (last) end = raw.size();
    RD_TRY(DecodedSegment seg, DecodeSegment(raw.substr(start, end - start)));
    if (seg.bytes.empty()) {
      trailing_slash = last;  // "//" collapses; a final empty segment is a trailing slash
    } else if (seg.bytes == "." || seg.bytes == "..") {
      if (seg.has_encoded_dot) return BadPath("encoded dot segment");
      if (seg.bytes == "..") {
        if (segments.empty()) return BadPath("'..' above the root");
        segments.pop_back();
      }
      trailing_slash = last;
    } else {
      if (!IsValidUtf8(seg.bytes)) return BadPath("not UTF-8 once decoded");
      segments.push_back(std::move(seg.bytes));
      trailing_slash = false;
    }
    if (last) break;
    start = end + 1;
  }

  std::string out;
  out.reserve(raw.size());
  for (const auto& seg : segments) {
    out.push_back('/');
    out += seg;
  }
  if (out.empty() || trailing_slash) out.push_back('/');
  return out;
}

}  // namespace replideploy::edge

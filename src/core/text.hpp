// Small text helpers that several components need, written once: hex digits, ASCII case,
// percent-encoding (RFC 3986). Pure functions; no locale is consulted.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace replideploy::core {

// The value of a hex digit (either case), or -1.
int HexDigitValue(char c);
// Every character a hex digit (either case); true for "".
bool IsHex(std::string_view s);
// Every character one of 0-9a-f; true for "".
bool IsLowerHex(std::string_view s);
// A git object name as git prints it: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
bool IsCommitSha(std::string_view s);

// Inline: header lookups call these for every request.
inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
// Equal when compared byte by byte with ASCII letters folded to lower case.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Equal bytes need no folding: the common case costs one compare.
    if (a[i] != b[i] && AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// Everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~) as %XX (upper case).
std::string UrlEncode(std::string_view s);
// & < > " ' as character references: safe in HTML and XML text and attribute values.
std::string HtmlEscape(std::string_view s);
// The byte that "%XY" at s[i] encodes, or -1 when s[i..i+2] is not a complete escape.
int PercentEscapeAt(std::string_view s, std::size_t i);
// Decodes %XX escapes; an incomplete or malformed escape is kept as it is. With
// `plus_is_space` (form and query encoding) '+' decodes to ' '.
std::string PercentDecodeLenient(std::string_view s, bool plus_is_space = false);
// Decodes %XX escapes; nullopt when one is incomplete or malformed.
std::optional<std::string> PercentDecodeStrict(std::string_view s);

}  // namespace replideploy::core
